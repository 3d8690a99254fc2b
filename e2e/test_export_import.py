"""Scenario 3: export a flow through the browser's download, import the file as a new flow."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from e2e.editor import open_flow
from tests.server import ROOT


def canonical(flow: dict, *, keep_id: bool = False) -> dict:
    """The flow with nodes and edges keyed by id: the export file lists them sorted by id,
    the API in the order they were added; neither order means anything."""
    out = {k: v for k, v in flow.items() if keep_id or k != "id"}
    out["nodes"] = {n["id"]: n for n in flow["nodes"]}
    out["edges"] = {e["id"]: e for e in flow["edges"]}
    return out


def test_export_then_import_gives_an_equal_flow(page: Page, api, tmp_path):
    document = json.loads((ROOT / "flowfiles" / "route-by-region.json").read_text())
    flow_id = api.create_flow(document)

    page.goto("/")
    expect(page.get_by_test_id(f"flow-row-{flow_id}")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_test_id(f"export-flow-{flow_id}").click()
    download = download_info.value
    exported = tmp_path / download.suggested_filename
    download.save_as(exported)
    assert exported.suffix == ".json"
    assert canonical(json.loads(exported.read_text()), keep_id=True) == canonical(
        api.flow(flow_id), keep_id=True
    )

    page.get_by_test_id("import-input").set_input_files(exported)
    toast = page.get_by_test_id("toast").filter(has_text=f"Imported {exported.name}")
    expect(toast).to_be_visible()
    expect(page.get_by_test_id("import-errors")).to_have_count(0)

    rows = page.locator("[data-testid^='flow-row-']")
    expect(rows).to_have_count(2)
    (new_id,) = {f["id"] for f in api.get("/api/v1/flows")} - {flow_id}
    expect(page.get_by_test_id(f"flow-row-{new_id}")).to_be_visible()

    original, imported = api.flow(flow_id), api.flow(new_id)
    assert imported["id"] != original["id"]
    assert canonical(imported) == canonical(original)

    # The editor's toolbar exports the same file.
    editor = open_flow(page, new_id)
    with page.expect_download() as download_info:
        editor.testid("export-flow").click()
    again = tmp_path / "again.json"
    download_info.value.save_as(again)
    assert canonical(json.loads(again.read_text())) == canonical(original)


def test_importing_a_broken_file_lists_the_errors_and_creates_nothing(page: Page, api, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps(
            {
                "name": "broken",
                "nodes": [{"id": "a", "type": "no_such_processor", "config": {}}],
                "edges": [],
            }
        )
    )
    page.goto("/")
    expect(page.get_by_test_id("flow-list")).to_be_visible()
    page.get_by_test_id("import-input").set_input_files(broken)
    errors = page.get_by_test_id("import-errors")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text("no_such_processor")
    assert api.get("/api/v1/flows") == []
