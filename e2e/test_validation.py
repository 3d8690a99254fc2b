"""Scenario 4: a filter on a column that does not exist is flagged on the node and the field."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.editor import Editor, create_flow


def test_missing_column_is_shown_on_the_node_and_on_the_field(page: Page, api):
    flow_id = create_flow(page, "typo in a condition")
    editor = Editor(page)
    gen = editor.drop("generate", 150, 150)
    flt = editor.drop("filter", 480, 150)
    editor.connect(gen, "out", flt, "in")

    editor.select(gen)
    editor.add_item("columns")
    editor.pick("columns.0-variant", "float")
    editor.fill("columns.0.name", "amount")

    editor.select(flt)
    editor.fill("condition", "amout > 100")

    badge = editor.testid(f"node-badge-{flt}")
    expect(badge).to_be_visible()
    expect(badge).not_to_have_attribute("data-errors", "0")
    expect(badge).to_have_attribute("title", re.compile(r"amout"))
    error = editor.testid("field-error-condition")
    expect(error).to_be_visible()
    expect(error).to_contain_text("amout")
    expect(editor.field("condition")).to_have_attribute("aria-invalid", "true")
    expect(editor.testid("problems")).to_contain_text("amout")
    # The source itself is fine.
    expect(editor.testid(f"node-badge-{gen}")).to_have_count(0)

    # The server agrees, and refuses to run it.
    editor.save()
    report = api.get(f"/api/v1/flows/{flow_id}/validation")
    assert not report["valid"]
    assert any(
        e["node_id"] == flt and e["path"].endswith("config.condition") for e in report["errors"]
    ), report["errors"]
    editor.testid("run-start").click()
    expect(editor.testid("toast").filter(has_text="Start failed")).to_be_visible()
    expect(editor.testid("run-state")).not_to_have_text("running")

    # Fixing the name clears both marks.
    editor.fill("condition", "amount > 100")
    expect(error).to_have_count(0)
    expect(badge).not_to_have_attribute("data-errors", re.compile(r"[1-9]"))
