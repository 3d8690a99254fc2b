"""Scenario 5: two people edit the same flow in two browsers; the later save conflicts."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from e2e.editor import Editor, open_flow
from e2e.flows import orders_flow

THEIRS = "status = 'paid' AND amount > 100"
MINE = "status = 'paid' AND amount > 300"


def both_edit_the_condition(open_page: Callable[[], Page], api) -> tuple[str, Editor, Editor]:
    """Alice and Bob open v1; Alice saves a condition (v2); Bob changes the same key and
    saves on top of v1: the conflict dialog opens for Bob."""
    flow_id = api.create_flow(orders_flow())
    alice = open_flow(open_page(), flow_id)
    bob = open_flow(open_page(), flow_id)

    alice.select("paid")
    alice.fill("condition", THEIRS)
    assert alice.save() == 2

    bob.select("paid")
    bob.fill("condition", MINE)
    bob.testid("save-flow").click()
    dialog = bob.testid("conflict-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("v2")
    row = bob.testid("conflict-row-0")
    expect(row).to_contain_text("condition")
    expect(row).to_contain_text(THEIRS)
    expect(row).to_contain_text(MINE)
    # Nothing of Bob's reached the server.
    assert api.get(f"/api/v1/flows/{flow_id}")["version"] == 2
    assert api.flow(flow_id)["nodes"][1]["config"]["condition"] == THEIRS
    return flow_id, alice, bob


def test_conflict_reload_theirs(open_page, api):
    flow_id, _alice, bob = both_edit_the_condition(open_page, api)

    bob.testid("conflict-reload").click()
    expect(bob.testid("conflict-dialog")).to_be_hidden()
    expect(bob.testid("flow-version")).to_have_text("v2")
    expect(bob.field("condition")).to_have_text(THEIRS)
    assert api.get(f"/api/v1/flows/{flow_id}")["version"] == 2
    assert api.flow(flow_id)["nodes"][1]["config"]["condition"] == THEIRS


def test_conflict_overwrite_with_mine(open_page, api):
    flow_id, alice, bob = both_edit_the_condition(open_page, api)

    bob.testid("conflict-overwrite").click()
    expect(bob.testid("conflict-dialog")).to_be_hidden()
    expect(bob.testid("flow-version")).to_have_text("v3")
    expect(bob.testid("dirty-marker")).to_be_hidden()
    assert api.flow(flow_id)["nodes"][1]["config"]["condition"] == MINE

    # Alice is now the stale one; her next save of the same key conflicts in turn.
    alice.fill("condition", "status = 'open'")
    alice.testid("save-flow").click()
    expect(alice.testid("conflict-dialog")).to_be_visible()
    alice.testid("conflict-keep").click()
    expect(alice.testid("conflict-dialog")).to_be_hidden()
    expect(alice.testid("dirty-marker")).to_be_visible()


def test_edits_of_different_keys_merge_without_a_dialog(open_page, api):
    flow_id = api.create_flow(orders_flow())
    alice = open_flow(open_page(), flow_id)
    bob = open_flow(open_page(), flow_id)

    alice.select("paid")
    alice.fill("condition", THEIRS)
    assert alice.save() == 2

    bob.select("orders")
    bob.fill("count", 250)
    bob.testid("save-flow").click()
    expect(bob.testid("toast").filter(has_text="Saved as v3")).to_be_visible()
    expect(bob.testid("conflict-dialog")).to_have_count(0)
    nodes = {n["id"]: n for n in api.flow(flow_id)["nodes"]}
    assert nodes["paid"]["config"]["condition"] == THEIRS
    assert nodes["orders"]["config"]["count"] == 250
