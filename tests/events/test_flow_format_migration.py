"""A journal written before format 2 keeps working: old configs are migrated when replayed."""

from __future__ import annotations

import json

import msgspec
import pytest

from dataflow.events.flows import FlowStore
from dataflow.events.journal import EventData, MemoryJournal
from dataflow.events.sqlite import SqliteJournal
from dataflow.model import FORMAT_VERSION

OLD_JOIN = {
    "source": "file",
    "path": "customers.csv",
    "cache_size": 10,  # ignored with a file before format 2: dropped
    "key_columns": ["customer_id"],
    "lookup_key_columns": ["id"],
}
OLD_FLOW = {
    "id": "f",
    "name": "Old",
    "description": "",
    "format_version": 1,
    "nodes": [
        {"id": "j", "type": "lookup_join", "name": "", "config": OLD_JOIN,
         "position": {"x": 0.0, "y": 0.0}},
    ],
    "edges": [],
    "settings": {"delivery": "at_least_once", "checkpoint_interval_seconds": 5.0},
}  # fmt: skip


def old_event(type_: str, flow_version: int, **data) -> EventData:
    """An event as DataFlow wrote it in format 1: no format_version in its metadata."""
    return EventData(
        type=type_,
        data=json.dumps({"type": type_, **data}).encode(),
        metadata={"flow_version": flow_version, "summary": "", "base_version": 0,
                  "merged": False},
    )  # fmt: skip


@pytest.fixture(params=["memory", "sqlite"])
async def journal(request, tmp_path):
    """A journal holding flow f as an older DataFlow wrote it: created, then edited."""
    journal = (
        MemoryJournal() if request.param == "memory" else SqliteJournal(str(tmp_path / "j.db"))
    )
    await journal.append(
        "flow-f",
        0,
        [
            old_event("FlowCreated", 1, flow=OLD_FLOW),
            # A partial change in the old shape: it only makes sense applied to the old config.
            old_event("NodeConfigChanged", 2, node_id="j", set={"path": "v2.csv"},
                      unset=["cache_size"]),
            old_event("NodeConfigChanged", 3, node_id="j", set={"source": "redis",
                      "url": "redis://cache/0", "key": "c:{customer_id}"},
                      unset=["key_columns", "lookup_key_columns", "path"]),
        ],
    )  # fmt: skip
    yield journal
    await journal.close()


def reference(state) -> dict:
    return state.flow.node("j").config["reference"]


async def test_every_old_version_reads_back_in_the_current_format(journal):
    flows = FlowStore(journal)
    v1, v2, v3 = [await flows.get("f", v) for v in (1, 2, 3)]
    assert {v1.flow.format_version, v2.flow.format_version} == {FORMAT_VERSION}
    assert v1.flow.node("j").config == {
        "reference": {"kind": "file", "path": "customers.csv"},
        "key_columns": ["customer_id"],
        "lookup_key_columns": ["id"],
    }
    assert reference(v2) == {"kind": "file", "path": "v2.csv"}
    assert v3.flow.node("j").config == {
        "reference": {"kind": "redis", "url": "redis://cache/0", "key": "c:{customer_id}"}
    }
    assert (await flows.get("f")).flow == v3.flow


@pytest.mark.parametrize("snapshot_every", [1, 1000], ids=["from-a-snapshot", "from-the-start"])
async def test_a_save_on_an_old_flow_writes_the_new_format_and_replays(journal, snapshot_every):
    flows = FlowStore(journal, snapshot_every=snapshot_every)
    current = await flows.get("f")
    doc = msgspec.structs.replace(current.flow, name="Renamed")
    ref = {"kind": "redis", "url": "redis://cache/0", "key": "customer:{customer_id}"}
    doc.nodes[0].config = {"reference": ref, "prefix": "c_"}
    result = await flows.save("f", doc, expected_version=3)
    assert result.state.version == 4
    written = await journal.read("flow-f", 4)
    assert {e.metadata["format_version"] for e in written} == {FORMAT_VERSION}
    # Replayed: old events in the old shapes, then the new ones (or from the snapshot).
    again = await FlowStore(journal).get("f")
    assert again.flow == result.state.flow
    assert again.flow.node("j").config == {"reference": ref, "prefix": "c_"}


async def test_diff_and_revert_across_the_format_change(journal):
    flows = FlowStore(journal)
    (change,) = (await flows.diff("f", 1, 2)).nodes_changed
    # Two migrated versions compared, not two shapes: only the file path changed.
    assert change.config_keys_changed == ["reference"]
    reverted = await flows.revert("f", 1)
    assert reverted.version == 4
    assert reverted.flow.node("j").config == (await flows.get("f", 1)).flow.node("j").config
    assert reference(await FlowStore(journal).get("f")) == {
        "kind": "file",
        "path": "customers.csv",
    }
