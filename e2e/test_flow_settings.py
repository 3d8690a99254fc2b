"""Flow settings (delivery, checkpoint interval): edited in the flow inspector, saved, and
kept when something else is edited and saved afterwards."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.editor import open_flow
from e2e.flows import orders_flow

EXACTLY_ONCE = {"delivery": "exactly_once", "checkpoint_interval_seconds": 2}


def test_settings_are_saved_and_survive_other_edits(page: Page, api):
    # generate -> filter -> console, saved with the default settings.
    flow_id = api.create_flow(orders_flow())
    assert api.flow(flow_id)["settings"] == {
        "delivery": "at_least_once",
        "checkpoint_interval_seconds": 5,
    }
    editor = open_flow(page, flow_id)

    # Nothing selected: the flow inspector shows the settings.
    delivery = editor.field("settings.delivery")
    interval = editor.field("settings.checkpoint_interval_seconds")
    expect(delivery).to_have_value("at_least_once")
    expect(interval).to_have_value("5")
    delivery.select_option("exactly_once")
    editor.fill("settings.checkpoint_interval_seconds", 2)
    assert editor.save() == 2
    assert api.flow(flow_id)["settings"] == EXACTLY_ONCE

    # The console sink cannot deliver exactly once: the node gets the badge, the
    # Delivery field and the problems list name it.
    badge = editor.testid("node-badge-show")
    expect(badge).to_have_attribute("data-errors", re.compile(r"[1-9]"))
    expect(badge).to_have_attribute("title", re.compile(r"cannot deliver exactly once"))
    error = editor.testid("field-error-settings.delivery")
    expect(error).to_contain_text("'show'")
    expect(delivery).to_have_attribute("aria-invalid", "true")
    expect(editor.testid("problems")).to_contain_text("cannot deliver exactly once")
    report = api.get(f"/api/v1/flows/{flow_id}/validation")
    assert [(e["code"], e["node_id"]) for e in report["errors"]] == [
        ("delivery_unsupported", "show")
    ]

    # The regression: editing something else and saving again keeps the settings.
    inspector = editor.select("paid")
    inspector.get_by_test_id("node-name-input").fill("Paid orders")
    assert editor.save() == 3
    saved = api.flow(flow_id)
    assert saved["settings"] == EXACTLY_ONCE
    assert next(n for n in saved["nodes"] if n["id"] == "paid")["name"] == "Paid orders"

    # The editor still shows them after the save.
    inspector.get_by_test_id("node-name-input").blur()
    page.keyboard.press("Escape")
    expect(delivery).to_have_value("exactly_once")
    expect(interval).to_have_value("2")

    # The settings change is in the history: v1 -> v2 says so.
    editor.testid("open-versions").click()
    editor.testid("version-pick-1").check()
    editor.testid("version-pick-2").check()
    expect(editor.testid("diff-changed-settings")).to_contain_text("Flow settings changed")
