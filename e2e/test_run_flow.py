"""Scenario 2: run the drawn flow, watch the numbers move on the canvas, check the output."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from e2e.editor import open_flow
from e2e.flows import live_orders_flow
from e2e.test_build_flow import draw_orders_pipeline, expected_generate_config
from tests.server import ROOT

COUNT = 5000
RATE = 1000  # records/s: the run lasts about 5 s, long enough to watch it
SCREENSHOT = ROOT / "docs" / "images" / "canvas-running.png"


def test_run_shows_live_numbers_and_writes_the_matched_rows(page: Page, api, out_dir):
    flow_id, editor, (gen, flt, out), (e1, e2) = draw_orders_pipeline(
        page, out_dir, count=COUNT, rate=RATE
    )

    # Start saves the drawing first.
    editor.testid("run-start").click()
    expect(editor.testid("run-state")).to_have_text("running")
    expect(editor.testid("dirty-marker")).to_be_hidden()
    assert api.get(f"/api/v1/flows/{flow_id}/run")["flow_version"] == 2
    saved = {n["id"]: n for n in api.flow(flow_id)["nodes"]}
    assert saved[gen]["config"] == expected_generate_config(COUNT, RATE)

    # The numbers rise while it runs: records out of the source, into the filter and sink.
    first = editor.wait_metric_above(gen, "records-out", 0)
    assert first < COUNT
    assert editor.wait_metric_above(gen, "records-out", first) > first
    editor.wait_metric_above(gen, "rate", 0)
    editor.wait_metric_above(flt, "records-in", 0)
    editor.wait_metric_above(out, "records-in", 0)
    expect(editor.testid(f"edge-fill-{e1}")).to_be_visible()
    expect(editor.testid(f"edge-fill-{e2}")).to_be_visible()

    # A count-limited source ends the run by itself.
    expect(editor.testid("run-state")).to_have_text("completed", timeout=20_000)
    metrics = api.get(f"/api/v1/flows/{flow_id}/metrics")
    assert metrics["state"] == "completed"
    assert metrics["nodes"][gen]["records_out"] == {"out": COUNT}
    matched = metrics["nodes"][flt]["records_out"]["matched"]
    assert 0 < matched < COUNT
    assert metrics["nodes"][out]["records_in"] == {"in": matched}

    # The canvas ends on the same numbers.
    expect(editor.testid(f"node-metrics-{gen}")).to_have_attribute("data-records-out", str(COUNT))
    expect(editor.testid(f"node-metrics-{out}")).to_have_attribute("data-records-in", str(matched))

    files = sorted(out_dir.glob("*.jsonl"))
    assert files, f"no output in {out_dir}: {list(out_dir.iterdir())}"
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert len(rows) == matched
    assert {row["status"] for row in rows} == {"paid"}
    assert all(1 <= row["amount"] < 500 for row in rows)


def test_running_flow_on_the_canvas(page: Page, api, out_dir):
    """Start, watch, stop an endless flow; the picture of it is docs/images/canvas-running.png."""
    flow_id = api.create_flow(live_orders_flow(str(out_dir)))
    editor = open_flow(page, flow_id)
    sinks = ["eu_out", "us_out", "rest_out", "unpaid_out"]
    for node in ["orders", "paid", "region", *sinks]:
        expect(editor.testid(f"node-{node}")).to_be_visible()

    editor.testid("run-start").click()
    expect(editor.testid("run-state")).to_have_text("running")
    for node in ["orders", "paid", "region", *sinks]:
        editor.wait_metric_above(node, "rate", 0)
    # Past the first seconds the rates are steady (the source is limited to 4000/s).
    editor.wait_metric_above("orders", "rate", 2000)
    for edge in api.flow(flow_id)["edges"]:
        expect(editor.testid(f"edge-fill-{edge['id']}")).to_be_visible()

    # The connection into the router: its queue and the records passing through it.
    editor.testid("edge-e-paid-region").click()
    expect(editor.testid("inspector-edge-e-paid-region")).to_be_visible()
    expect(editor.testid("sample-table")).to_be_visible()
    editor.testid("tab-events").click()
    expect(editor.testid("events-panel")).to_contain_text("RunStarted")

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT)
    assert SCREENSHOT.read_bytes()[16:24] == (1440).to_bytes(4, "big") + (900).to_bytes(4, "big")

    editor.testid("run-stop").click()
    expect(editor.testid("run-state")).to_have_text("stopped")
    run = api.get(f"/api/v1/flows/{flow_id}/run")
    assert run["state"] == "stopped"
    metrics = api.get(f"/api/v1/flows/{flow_id}/metrics")["nodes"]
    produced = metrics["orders"]["records_out"]["out"]
    written = sum(sum(metrics[s]["records_in"].values()) for s in sinks)
    assert produced == written > 0  # a graceful stop drains every queue
