"""Scenario 1: draw generate -> filter -> write_file on an empty canvas, with the mouse."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from e2e.editor import Editor, create_flow

COUNT = 5000
STATUSES = ["paid", "open", "refunded"]


def draw_orders_pipeline(page: Page, out_dir: Path, *, count: int = COUNT, rate: float = 0):
    """Draw the three processors, connect them and fill their forms, as a user would.

    Returns the editor and the ids of the nodes and edges it drew."""
    flow_id = create_flow(page, "orders: paid to jsonl")
    editor = Editor(page)

    gen = editor.drop("generate", 130, 110)
    flt = editor.drop("filter", 430, 210)
    out = editor.drop("write_file", 730, 110)
    e1 = editor.connect(gen, "out", flt, "in")
    e2 = editor.connect(flt, "matched", out, "in")

    editor.select(gen)
    editor.fill("count", count)
    if rate:
        editor.fill("rate", rate)
        editor.fill("batch_size", 100)
    editor.add_item("columns")
    editor.pick("columns.0-variant", "choice")
    editor.fill("columns.0.name", "status")
    for i, status in enumerate(STATUSES):
        editor.add_item("columns.0.choices")
        editor.fill(f"columns.0.choices.{i}", status)
    editor.add_item("columns")
    editor.pick("columns.1-variant", "float")
    editor.fill("columns.1.name", "amount")
    editor.fill("columns.1.min", 1)
    editor.fill("columns.1.max", 500)

    editor.select(flt)
    editor.fill("condition", "status = 'paid'")

    editor.select(out)
    editor.fill("directory", str(out_dir))
    editor.pick("format", "jsonl")

    return flow_id, editor, (gen, flt, out), (e1, e2)


def expected_generate_config(count: int = COUNT, rate: float = 0) -> dict:
    config = {
        "count": count,
        "columns": [
            {"kind": "choice", "name": "status", "choices": STATUSES},
            {"kind": "float", "name": "amount", "min": 1, "max": 500},
        ],
    }
    if rate:
        config |= {"rate": rate, "batch_size": 100}
    return config


def test_draw_generate_filter_write_file_from_an_empty_canvas(page: Page, api, out_dir):
    flow_id, editor, (gen, flt, out), (e1, e2) = draw_orders_pipeline(page, out_dir)

    # The drawing validates. The one thing left is a warning: the filter's `unmatched`
    # port goes nowhere, so those records are discarded (that is the point here).
    for node in (gen, out):
        expect(page.get_by_test_id(f"node-badge-{node}")).to_have_count(0)
    badge = page.get_by_test_id(f"node-badge-{flt}")
    expect(badge).to_have_attribute("data-errors", "0")
    expect(badge).to_have_attribute("data-warnings", "1")
    expect(badge).to_have_attribute("title", re.compile("'unmatched' is not connected"))

    assert editor.save() == 2
    saved = api.flow(flow_id)

    nodes = {n["id"]: n for n in saved["nodes"]}
    assert {i: n["type"] for i, n in nodes.items()} == {
        gen: "generate",
        flt: "filter",
        out: "write_file",
    }
    assert nodes[gen]["config"] == expected_generate_config()
    assert nodes[flt]["config"] == {"condition": "status = 'paid'"}
    assert nodes[out]["config"] == {"directory": str(out_dir), "format": "jsonl"}
    # Dropped left to right where the mouse let go, in that order.
    xs = [nodes[i]["position"]["x"] for i in (gen, flt, out)]
    assert xs == sorted(xs)

    edges = {
        e["id"]: (e["source"], e["source_port"], e["target"], e["target_port"])
        for e in saved["edges"]
    }
    assert edges == {e1: (gen, "out", flt, "in"), e2: (flt, "matched", out, "in")}

    # What the server holds is what the canvas shows after a reload.
    page.reload()
    for node in (gen, flt, out):
        expect(page.get_by_test_id(f"node-{node}")).to_be_visible()
    expect(page.get_by_test_id(f"edge-{e1}")).to_be_attached()
    expect(page.get_by_test_id(f"edge-{e2}")).to_be_attached()
    expect(page.get_by_test_id("dirty-marker")).to_be_hidden()
