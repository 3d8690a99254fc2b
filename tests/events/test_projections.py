"""The flow list projection, and the Projection base it is built on."""

import msgspec
import pytest

from dataflow.events.flows import FlowStore
from dataflow.events.journal import EventData, MemoryJournal, RecordedEvent
from dataflow.events.projections import FlowListProjection, Projection
from dataflow.model import Edge, Flow, Node

replace = msgspec.structs.replace


def doc(flow_id: str, name: str) -> Flow:
    return Flow(
        id=flow_id,
        name=name,
        description=f"{name} flow",
        nodes=[Node(id="gen", type="generate"), Node(id="out", type="console")],
        edges=[Edge(id="e1", source="gen", target="out")],
    )


@pytest.fixture
def journal():
    return MemoryJournal()


@pytest.fixture
def flows(journal):
    return FlowStore(journal)


def rows(projection: FlowListProjection) -> list[tuple]:
    return [
        (f.id, f.name, f.description, f.version, f.node_count, f.edge_count)
        for f in projection.list()
    ]


async def test_list_shows_created_flows_sorted_by_name(journal, flows):
    await flows.create(doc("b", "Beta"))
    await flows.create(doc("a", "alpha"))
    projection = FlowListProjection(journal)
    assert await projection.catch_up() == 2
    assert rows(projection) == [
        ("a", "alpha", "alpha flow", 1, 2, 1),
        ("b", "Beta", "Beta flow", 1, 2, 1),
    ]


async def test_list_follows_renames_edits_and_deletes(journal, flows):
    projection = FlowListProjection(journal)
    created = await flows.create(doc("a", "alpha"))
    await flows.create(doc("b", "beta"))
    await projection.catch_up()

    edited = replace(
        doc("a", "renamed"),
        description="new",
        nodes=[*doc("a", "").nodes, Node(id="sink", type="console")],
        edges=[],
    )
    saved = await flows.save("a", edited, 1)
    await flows.delete("b")
    await projection.catch_up()

    assert rows(projection) == [("a", "renamed", "new", 2, 3, 0)]
    summary = projection.get("a")
    assert summary.created_at == created.created_at
    assert summary.updated_at == saved.state.updated_at
    assert projection.get("b") is None


async def test_catch_up_reads_only_what_is_new(journal, flows):
    projection = FlowListProjection(journal)
    await flows.create(doc("a", "alpha"))
    assert await projection.catch_up() == 1
    assert await projection.catch_up() == 0
    await flows.save("a", doc("a", "x"), 1)  # renamed and described: two events
    assert await projection.catch_up() == 2
    assert projection.position == 3


async def test_events_of_other_streams_are_skipped(journal, flows):
    await journal.append("run-a", 0, [EventData(type="RunStarted", data=b"{}")])
    await flows.create(doc("a", "alpha"))
    projection = FlowListProjection(journal)
    assert await projection.catch_up() == 1
    assert projection.position == 2  # the run event is passed over, not read again
    assert [f.id for f in projection.list()] == ["a"]


async def test_rebuild_from_zero_gives_the_same_list(journal, flows):
    for i in range(7):
        await flows.create(doc(f"f{i}", f"flow {i}"))
    await flows.save("f1", doc("f1", "renamed"), 1)
    await flows.delete("f3")
    projection = FlowListProjection(journal, batch_size=2)  # several pages
    await projection.catch_up()
    before = projection.list()
    assert await projection.rebuild() == 7 + 2 + 1
    assert projection.list() == before
    assert len(before) == 6
    assert projection.get("f1").name == "renamed"


class RunCounter(Projection):
    """A projection of another stream type, built the way the lead's run projections will be."""

    name = "run_counter"
    stream_prefix = "run-"

    def __init__(self, journal):
        super().__init__(journal)
        self.types: list[str] = []

    def reset(self) -> None:
        self.types.clear()

    async def handle(self, event: RecordedEvent) -> None:
        self.types.append(event.type)


async def test_a_projection_sees_only_its_streams(journal, flows):
    await flows.create(doc("a", "alpha"))
    await journal.append("run-a", 0, [EventData(type="RunStarted", data=b"{}")])
    await journal.append("run-a", 1, [EventData(type="RunStopped", data=b"{}")])
    counter = RunCounter(journal)
    assert await counter.catch_up() == 2
    assert counter.types == ["RunStarted", "RunStopped"]
    await counter.rebuild()
    assert counter.types == ["RunStarted", "RunStopped"]
