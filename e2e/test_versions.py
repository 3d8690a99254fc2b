"""Scenario 6: every save is a version; diff two of them, revert to the older one."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from e2e.editor import open_flow
from e2e.flows import orders_flow

BEFORE = "status = 'paid'"
AFTER = "status = 'paid' AND amount > 250"


def test_diff_two_versions_then_revert(page: Page, api):
    flow_id = api.create_flow(orders_flow())
    editor = open_flow(page, flow_id)

    editor.select("paid")
    expect(editor.field("condition")).to_have_text(BEFORE)
    editor.fill("condition", AFTER)
    assert editor.save() == 2

    editor.testid("open-versions").click()
    panel = editor.testid("versions-panel")
    expect(panel).to_be_visible()
    expect(editor.testid("version-row-1")).to_be_visible()
    expect(editor.testid("version-row-2")).to_contain_text("current")

    editor.testid("version-pick-1").check()
    editor.testid("version-pick-2").check()
    diff = editor.testid("diff-view")
    expect(diff).to_have_attribute("data-from", "1")
    expect(diff).to_have_attribute("data-to", "2")
    changed = editor.testid("diff-changed-paid")
    expect(changed).to_contain_text("condition")
    expect(changed.locator(".diff-old")).to_contain_text(BEFORE)
    expect(changed.locator(".diff-new")).to_contain_text(AFTER)
    # Only the filter changed.
    expect(diff.locator("[data-testid^='diff-']")).to_have_count(1)

    # Pick v1 alone and revert to it: a new version (v3) equal to v1.
    editor.testid("version-pick-2").uncheck()
    editor.testid("revert-version").click()
    editor.testid("confirm-ok").click()
    expect(editor.testid("flow-version")).to_have_text("v3")
    expect(editor.testid("version-row-3")).to_contain_text("current")
    expect(editor.field("condition")).to_have_text(BEFORE)
    expect(editor.testid("dirty-marker")).to_be_hidden()

    envelope = api.get(f"/api/v1/flows/{flow_id}")
    assert envelope["version"] == 3
    assert envelope["flow"] == api.get(f"/api/v1/flows/{flow_id}/versions/1")["flow"]
    paid = next(n for n in envelope["flow"]["nodes"] if n["id"] == "paid")
    assert paid["config"] == {"condition": BEFORE}
