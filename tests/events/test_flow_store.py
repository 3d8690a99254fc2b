"""FlowStore: versions, stale-write merges, revert, soft delete and snapshots on real journals."""

import asyncio
import random

import msgspec
import pytest

from dataflow.events.diff import MergeConflict
from dataflow.events.flow_events import FlowReverted, NodeAdded, NodeConfigChanged
from dataflow.events.flows import (
    FlowExists,
    FlowNotFound,
    FlowStore,
    StaleVersion,
    VersionNotFound,
)
from dataflow.events.journal import ConcurrencyError, Journal, MemoryJournal
from dataflow.model import FORMAT_VERSION, Edge, Flow, Node, Position, export_flow

replace = msgspec.structs.replace


class CountingJournal(Journal):
    """Wraps a journal: counts events read and concurrency errors, and yields to the event
    loop before each call so concurrent saves really interleave (MemoryJournal never waits).
    """

    def __init__(self, inner: Journal):
        self.inner = inner
        self.events_read = 0
        self.snapshots_loaded = 0
        self.conflicts = 0

    async def append(self, stream, expected_version, events):
        await asyncio.sleep(0)
        try:
            return await self.inner.append(stream, expected_version, events)
        except ConcurrencyError:
            self.conflicts += 1
            raise

    async def read(self, stream, from_version=1, to_version=None):
        await asyncio.sleep(0)
        events = await self.inner.read(stream, from_version, to_version)
        self.events_read += len(events)
        return events

    async def read_all(self, from_position=1, limit=1000):
        return await self.inner.read_all(from_position, limit)

    async def stream_version(self, stream):
        await asyncio.sleep(0)
        return await self.inner.stream_version(stream)

    async def save_snapshot(self, stream, version, data):
        await self.inner.save_snapshot(stream, version, data)

    async def load_snapshot(self, stream, max_version=None):
        snapshot = await self.inner.load_snapshot(stream, max_version)
        self.snapshots_loaded += snapshot is not None
        return snapshot


@pytest.fixture(params=["memory", "sqlite"])
async def counted(request, tmp_path):
    """A CountingJournal on each embedded backend (named apart from conftest's `journal`)."""
    if request.param == "memory":
        inner = MemoryJournal()
    else:
        sqlite = pytest.importorskip("dataflow.events.sqlite")
        inner = sqlite.SqliteJournal(str(tmp_path / "journal.db"))
    yield CountingJournal(inner)
    await inner.close()


@pytest.fixture
def flows(counted):
    return FlowStore(counted)


def doc(**changes) -> Flow:
    flow = Flow(
        name="orders",
        nodes=[
            Node(id="gen", type="generate", config={"count": 10}),
            Node(id="filter-1", type="filter", config={"condition": "amount > 100"}),
        ],
        edges=[Edge(id="e1", source="gen", target="filter-1")],
    )
    return replace(flow, **changes)


def with_config(flow: Flow, node_id: str, **config) -> Flow:
    nodes = [
        replace(n, config={**n.config, **config}) if n.id == node_id else n for n in flow.nodes
    ]
    return replace(flow, nodes=nodes)


def added_node(flow: Flow, node_id: str) -> Flow:
    return replace(flow, nodes=[*flow.nodes, Node(id=node_id, type="console")])


# ------------------------------------------------------------------ create and get


async def test_create_assigns_an_id_and_version_1(flows):
    state = await flows.create(doc())
    assert state.flow.id.startswith("flow-")
    assert state.version == 1
    assert not state.deleted
    assert state.created_at == state.updated_at
    assert export_flow(state.flow) == export_flow(replace(doc(), id=state.flow.id))


async def test_create_keeps_a_given_id_and_refuses_a_taken_one(flows):
    await flows.create(doc(id="orders"))
    with pytest.raises(FlowExists, match="'orders' already exists"):
        await flows.create(doc(id="orders", name="other"))
    assert (await flows.get("orders")).flow.name == "orders"


async def test_create_validates_the_document(flows):
    with pytest.raises(msgspec.ValidationError, match=r"\$.name"):
        await flows.create(doc(name=""))
    with pytest.raises(msgspec.ValidationError, match=r"matching regex .* at `\$.id`"):
        await flows.create(doc(id="a/b"))


async def test_get_unknown_flow_or_version_raises(flows):
    with pytest.raises(FlowNotFound, match="'nope' not found"):
        await flows.get("nope")
    await flows.create(doc(id="f"))
    for version in (0, 2):
        with pytest.raises(VersionNotFound, match=f"no version {version} \\(current version: 1"):
            await flows.get("f", version)


# ------------------------------------------------------------------ save


async def test_save_appends_fine_grained_events_as_one_new_version(flows, counted):
    await flows.create(doc(id="f"))
    result = await flows.save("f", with_config(doc(), "gen", count=20), expected_version=1)
    assert result.changed and not result.merged
    assert result.state.version == 2
    assert result.events == [NodeConfigChanged(node_id="gen", set={"count": 20})]
    assert (await flows.get("f")).flow.node("gen").config == {"count": 20}
    (recorded,) = await counted.read("flow-f", 2)
    assert recorded.type == "NodeConfigChanged"
    assert recorded.metadata == {
        "actor": "dataflow",  # no request here: the server's own doing
        "flow_version": 2,
        "format_version": FORMAT_VERSION,
        "summary": "changed config of node gen (count)",
        "base_version": 1,
        "merged": False,
    }


async def test_every_event_of_a_save_carries_its_flow_version(flows, counted):
    await flows.create(doc(id="f"))
    await flows.save("f", added_node(added_node(doc(), "a"), "b"), 1)
    events = await counted.read("flow-f")
    assert [(e.version, e.metadata["flow_version"]) for e in events] == [(1, 1), (2, 2), (3, 2)]


async def test_saving_an_equal_document_appends_nothing(flows, counted):
    await flows.create(doc(id="f"))
    result = await flows.save("f", doc(id="f"), 1)
    assert (result.changed, result.state.version, result.events) == (False, 1, [])
    assert await counted.stream_version("flow-f") == 1


async def test_save_takes_the_id_from_the_url_and_refuses_another(flows):
    await flows.create(doc(id="f"))
    assert (await flows.save("f", doc(id="", name="x"), 1)).state.flow.id == "f"
    with pytest.raises(ValueError, match="'g' does not match flow 'f'"):
        await flows.save("f", doc(id="g"), 2)


async def test_save_based_on_a_future_version_raises(flows):
    await flows.create(doc(id="f"))
    with pytest.raises(VersionNotFound):
        await flows.save("f", doc(name="x"), 5)


async def test_stale_save_with_disjoint_changes_is_merged(flows, counted):
    await flows.create(doc(id="f"))
    await flows.save("f", with_config(doc(), "gen", count=20), 1)
    result = await flows.save("f", added_node(doc(), "sink"), expected_version=1)
    assert result.merged and result.changed
    assert result.state.version == 3
    assert result.events == [NodeAdded(node=Node(id="sink", type="console"))]
    flow = (await flows.get("f")).flow
    assert flow.node("gen").config == {"count": 20}
    assert flow.node("sink") is not None
    (recorded,) = await counted.read("flow-f", 3)
    assert (recorded.metadata["merged"], recorded.metadata["base_version"]) == (True, 1)


async def test_stale_save_with_conflicting_changes_raises_merge_conflict(flows):
    await flows.create(doc(id="f"))
    await flows.save("f", with_config(doc(), "gen", count=20), 1)
    with pytest.raises(MergeConflict) as info:
        await flows.save("f", with_config(doc(), "gen", count=30), 1)
    assert info.value.current_version == 2
    (conflict,) = info.value.conflicts
    assert (conflict.path, conflict.base, conflict.current, conflict.saved) == (
        "nodes[gen].config.count",
        10,
        20,
        30,
    )
    assert (await flows.get("f")).version == 2


async def test_concurrent_non_conflicting_saves_both_land(flows, counted):
    await flows.create(doc(id="f"))
    results = await asyncio.gather(
        flows.save("f", with_config(doc(), "gen", count=20), 1),
        flows.save("f", added_node(doc(), "sink"), 1),
    )
    # Both read version 1 before either appended (the journal yields on every call), so
    # the journal's compare-and-set refused one append, and that writer merged and retried.
    assert counted.conflicts == 1
    assert sorted(r.state.version for r in results) == [2, 3]
    assert [r.merged for r in results] == [False, True]
    flow = (await flows.get("f")).flow
    assert (flow.node("gen").config["count"], flow.node("sink").type) == (20, "console")


async def test_concurrent_conflicting_saves_exactly_one_wins(flows, counted):
    await flows.create(doc(id="f"))
    results = await asyncio.gather(
        flows.save("f", with_config(doc(), "gen", count=20), 1),
        flows.save("f", with_config(doc(), "gen", count=30), 1),
        return_exceptions=True,
    )
    (won,) = [r for r in results if not isinstance(r, Exception)]
    (lost,) = [r for r in results if isinstance(r, Exception)]
    assert isinstance(lost, MergeConflict)
    assert counted.conflicts == 1
    assert lost.current_version == 2
    assert won.state.version == 2
    state = await flows.get("f")
    assert (state.version, state.flow.node("gen").config) == (2, won.state.flow.node("gen").config)


# ------------------------------------------------------------------ versions, history, diff


async def test_versions_list_each_save_with_its_summary(flows):
    await flows.create(doc(id="f"))
    await flows.save("f", added_node(added_node(doc(), "a"), "b"), 1)
    # Based on version 1, this writer never saw node a: the merge keeps it.
    await flows.save("f", with_config(added_node(doc(), "b"), "gen", count=1), 1)
    await flows.save("f", doc(name="x"), 3)
    versions = await flows.versions("f")
    assert [(v.version, v.event_count, v.merged, v.base_version) for v in versions] == [
        (1, 1, False, 0),
        (2, 2, False, 1),
        (3, 1, True, 1),
        (4, 4, False, 3),
    ]
    assert [v.summary for v in versions] == [
        "created flow 'orders'",
        "added node a, added node b",
        "changed config of node gen (count)",
        "renamed flow to 'x', removed node a, removed node b, changed config of node gen (count)",
    ]
    assert versions[0].recorded_at <= versions[2].recorded_at


async def test_history_is_the_event_audit_trail(flows):
    await flows.create(doc(id="f"))
    await flows.save("f", doc(name="renamed"), 1)
    history = await flows.history("f")
    assert [(h.flow_version, h.stream_version, h.type) for h in history] == [
        (1, 1, "FlowCreated"),
        (2, 2, "FlowRenamed"),
    ]
    assert history[1].payload == {"type": "FlowRenamed", "name": "renamed"}
    assert history[0].position < history[1].position


async def test_diff_between_two_versions(flows):
    await flows.create(doc(id="f"))
    await flows.save("f", with_config(doc(), "gen", count=20), 1)
    await flows.save("f", added_node(with_config(doc(), "gen", count=20), "sink"), 2)
    diff = await flows.diff("f", 1, 3)
    assert [n.id for n in diff.nodes_added] == ["sink"]
    assert [c.config_keys_changed for c in diff.nodes_changed] == [["count"]]
    assert not (await flows.diff("f", 3, 3)).changed


# ------------------------------------------------------------------ revert and delete


async def test_revert_appends_a_version_equal_to_the_old_one(flows, counted):
    await flows.create(doc(id="f"))
    await flows.save("f", with_config(doc(), "gen", count=20), 1)
    await flows.save("f", added_node(with_config(doc(), "gen", count=20), "sink"), 2)
    state = await flows.revert("f", 1)
    assert state.version == 4
    assert export_flow(state.flow) == export_flow((await flows.get("f", 1)).flow)
    events = await counted.read("flow-f", 4)
    assert [e.type for e in events] == ["FlowReverted", "NodeRemoved", "NodeConfigChanged"]
    assert msgspec.json.decode(events[0].data, type=FlowReverted).to_version == 1
    assert (await flows.versions("f"))[-1].summary.startswith("reverted to version 1, ")


async def test_revert_to_an_unknown_version_raises(flows):
    await flows.create(doc(id="f"))
    with pytest.raises(VersionNotFound):
        await flows.revert("f", 7)


async def test_delete_is_soft(flows):
    await flows.create(doc(id="f"))
    state = await flows.delete("f", expected_version=1)
    assert (state.version, state.deleted) == (2, True)
    with pytest.raises(FlowNotFound):
        await flows.get("f")
    with pytest.raises(FlowNotFound):
        await flows.save("f", doc(name="x"), 2)
    with pytest.raises(FlowNotFound):
        await flows.delete("f")
    assert (await flows.get("f", include_deleted=True)).deleted
    assert (await flows.get("f", 1, include_deleted=True)).flow.name == "orders"
    history = await flows.history("f", include_deleted=True)
    assert [h.type for h in history] == ["FlowCreated", "FlowDeleted"]
    with pytest.raises(FlowExists):
        await flows.create(doc(id="f"))


async def test_delete_based_on_a_stale_version_raises(flows):
    await flows.create(doc(id="f"))
    await flows.save("f", doc(name="x"), 1)
    with pytest.raises(StaleVersion, match="at version 2, expected 1"):
        await flows.delete("f", expected_version=1)


# ------------------------------------------------------------------ snapshots


async def test_every_version_reads_back_as_saved_and_snapshots_shorten_replay(counted):
    flows = FlowStore(counted, snapshot_every=3)
    rng = random.Random(7)
    saved = [doc(id="f")]
    await flows.create(saved[0])
    for version in range(2, 12):
        flow = saved[-1]
        # Saves of one to three events, so snapshots fall between event-count multiples.
        for _ in range(rng.randint(1, 3)):
            flow = added_node(flow, f"n{version}-{len(flow.nodes)}")
        flow = replace(
            flow,
            nodes=[*flow.nodes[:-1], replace(flow.nodes[-1], position=Position(x=float(version)))],
        )
        result = await flows.save("f", flow, version - 1)
        assert result.state.version == version
        saved.append(flow)

    total = await counted.stream_version("flow-f")
    for version, flow in enumerate(saved, start=1):
        counted.events_read = 0
        state = await flows.get("f", version)
        assert state.version == version
        assert export_flow(state.flow) == export_flow(flow)
        if version >= 4:  # the first snapshot is at stream version >= 3, so flow version <= 3
            assert counted.events_read < total / 2

    counted.events_read = counted.snapshots_loaded = 0
    state = await flows.get("f")
    assert counted.snapshots_loaded == 1
    # The last event (current version) plus the tail after the snapshot: under a full replay.
    assert counted.events_read <= 1 + 3 + 3
    assert counted.events_read < total
    assert export_flow(state.flow) == export_flow(saved[-1])
