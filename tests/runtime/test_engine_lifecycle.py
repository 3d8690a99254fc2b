"""FlowRun lifecycle: completion, pause/resume, graceful and forced stop, offsets, build errors."""

from __future__ import annotations

import asyncio

import pyarrow as pa
import pytest

from dataflow.processor import ProcessorSpec, Transform, TransformConfig
from dataflow.runtime import FlowBuildError, FlowRun, OffsetsChanged, RunNotice, StateChanged
from dataflow.testing import ListSink, ListSinkConfig, registry_with
from dataflow_processors.filter import Filter


class ClosingSink(ListSink):
    """A list sink that remembers whether it was closed."""

    spec = ProcessorSpec(name="closing_sink", category="sink", summary="t", inputs=("in",))

    def __init__(self, config: ListSinkConfig, context=None):
        super().__init__(config, context)
        self.closed = 0

    async def close(self) -> None:
        self.closed += 1


class Count(Transform[TransformConfig]):
    """Holds a running count and emits it only at the end of the stream."""

    spec = ProcessorSpec(
        name="count", category="transform", summary="t", inputs=("in",), outputs=("out",)
    )
    stateless = False

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch | None]:
        self.total = getattr(self, "total", 0) + batch.num_rows
        return {"out": None}

    def finish(self) -> dict[str, pa.RecordBatch]:
        return {"out": pa.record_batch({"count": [getattr(self, "total", 0)]})}


REGISTRY = registry_with(Filter, ClosingSink, Count)


def rows(n: int) -> list[dict[str, int]]:
    return [{"i": i} for i in range(n)]


def endless(delay: float = 0.0) -> tuple[str, dict]:
    return ("list_source", {"rows": [{"i": 0}], "repeat": 0, "delay_seconds": delay})


async def test_a_finite_flow_completes_and_says_so(make_flow, capacity):
    flow = make_flow(
        {
            "src": ("list_source", {"rows": rows(10), "batch_size": 3}),
            "count": "count",
            "out": "closing_sink",
        },
        ["src -> count", "count -> out"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY)
    notices: list[RunNotice] = []
    run.subscribe(notices.append)
    await run.start()
    outcome = await asyncio.wait_for(run.wait(), 10)
    assert outcome.state == "completed"
    assert outcome.error is None
    sink = run.processor("out")
    assert sink.rows == [{"count": 10}]  # finish() output reached the sink
    assert sink.closed == 1
    assert sink.flushes == 1
    states = [(n.previous, n.state) for n in notices if isinstance(n, StateChanged)]
    assert states == [("created", "running"), ("running", "completed")]
    assert run.offsets() == {"src": 10}
    assert {m.state for m in run.metrics().nodes.values()} == {"finished"}


async def test_pause_stops_the_source_and_resume_continues_it(make_flow, capacity, until):
    flow = make_flow({"src": endless(delay=0.002), "out": "list_sink"}, ["src -> out"], capacity)
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: (run.offsets().get("src") or 0) >= 5)
    await run.pause()
    assert run.state == "paused"
    await asyncio.sleep(0.05)  # a batch being read when pause came may still arrive
    paused_at = run.offsets()["src"]
    queued = run.metrics().edges["e1"].queued_batches
    await asyncio.sleep(0.2)
    assert run.offsets()["src"] == paused_at
    assert run.metrics().edges["e1"].queued_batches == queued  # queues keep their content
    await run.resume()
    assert run.state == "running"
    await until(lambda: run.offsets()["src"] > paused_at + 5)
    outcome = await run.stop()
    assert outcome.state == "stopped"


async def test_graceful_stop_drains_every_queued_batch_into_the_sinks(make_flow, capacity, until):
    flow = make_flow(
        {
            "src": ("list_source", {"rows": rows(1), "repeat": 0}),
            "keep": ("filter", {"condition": "i >= 0"}),
            "out": ("closing_sink", {"delay_seconds": 0.002}),
        },
        ["src -> keep", "keep:matched -> out"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: len(run.processor("out").batches) >= 5)
    outcome = await asyncio.wait_for(run.stop(), 10)
    assert outcome.state == "stopped"
    assert not outcome.forced
    sink = run.processor("out")
    metrics = run.metrics()
    # Everything the source emitted went through: nothing was left in a queue.
    assert len(sink.rows) == run.offsets()["src"]
    assert metrics.nodes["out"].records_in["in"] == metrics.nodes["src"].records_out["out"]
    assert all(e.queued_batches == 0 for e in metrics.edges.values())
    assert sink.flushes == 1
    assert sink.closed == 1


async def test_graceful_stop_while_paused_still_drains(make_flow, until):
    flow = make_flow(
        {"src": endless(), "out": ("closing_sink", {"delay_seconds": 0.001})},
        ["src -> out"],
        capacity=8,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: len(run.processor("out").batches) >= 3)
    await run.pause()
    outcome = await asyncio.wait_for(run.stop(), 10)
    assert outcome.state == "stopped"
    assert len(run.processor("out").rows) == run.offsets()["src"]


async def test_graceful_stop_interrupts_a_source_waiting_for_input(make_flow, until):
    flow = make_flow({"src": endless(delay=3600), "out": "closing_sink"}, ["src -> out"])
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await asyncio.sleep(0.05)
    outcome = await asyncio.wait_for(run.stop(), 10)
    assert outcome.state == "stopped"
    assert run.processor("out").closed == 1


async def test_force_stop_cancels_now_and_still_closes(make_flow, capacity, until):
    flow = make_flow(
        {"src": endless(), "out": ("closing_sink", {"delay_seconds": 0.02})},
        ["src -> out"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: len(run.processor("out").batches) >= 2)
    outcome = await asyncio.wait_for(run.stop(force=True), 10)
    assert outcome.state == "stopped"
    assert outcome.forced
    sink = run.processor("out")
    assert sink.closed == 1
    assert sink.flushes == 0  # no drain, no flush
    assert run.metrics().nodes["out"].state == "cancelled"


async def test_a_slow_graceful_stop_can_fall_back_to_force(make_flow, until):
    flow = make_flow(
        {"src": endless(), "out": ("closing_sink", {"delay_seconds": 0.2})},
        ["src -> out"],
        capacity=64,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: run.metrics().edges["e1"].queued_batches >= 10)
    outcome = await asyncio.wait_for(run.stop(timeout=0.1), 10)
    assert (outcome.state, outcome.forced) == ("stopped", True)


async def test_a_source_given_an_offset_resumes_from_it(make_flow, capacity):
    flow = make_flow(
        {"src": ("list_source", {"rows": rows(10), "batch_size": 3}), "out": "list_sink"},
        ["src -> out"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY, offsets={"src": 4})
    assert run.offsets() == {"src": 4}
    offsets_seen: list[int] = []
    run.subscribe(lambda n: isinstance(n, OffsetsChanged) and offsets_seen.append(n.offset))
    await run.start()
    assert (await asyncio.wait_for(run.wait(), 10)).state == "completed"
    assert run.processor("out").rows == rows(10)[4:]
    assert offsets_seen == [6, 9, 10]  # the rest of the batch the offset fell in, then on
    assert run.offsets() == {"src": 10}


async def test_lifecycle_calls_outside_their_state_are_harmless(make_flow):
    run = FlowRun.of(
        make_flow({"src": "list_source", "out": "list_sink"}, ["src -> out"]), REGISTRY
    )
    await run.pause()
    assert run.state == "created"
    with pytest.raises(RuntimeError, match="not started"):
        await run.wait()
    await run.start()
    with pytest.raises(RuntimeError, match="already started"):
        await run.start()
    assert (await asyncio.wait_for(run.wait(), 10)).state == "completed"
    await run.resume()
    assert (await run.stop()).state == "completed"


async def test_stop_before_start_ends_the_run(make_flow):
    run = FlowRun.of(
        make_flow({"src": "list_source", "out": "list_sink"}, ["src -> out"]), REGISTRY
    )
    assert (await run.stop()).state == "stopped"
    with pytest.raises(RuntimeError, match="already started"):
        await run.start()


async def test_stop_while_processors_open_closes_them_and_starts_nothing(make_flow):
    class SlowToOpen(ClosingSink):
        spec = ProcessorSpec(name="slow_to_open", category="sink", summary="t", inputs=("in",))

        async def open(self) -> None:
            await asyncio.sleep(0.1)

    flow = make_flow({"src": "list_source", "out": "slow_to_open"}, ["src -> out"])
    run = FlowRun.of(flow, registry_with(SlowToOpen))
    starting = asyncio.create_task(run.start())
    await asyncio.sleep(0.02)
    outcome = await asyncio.wait_for(run.stop(), 10)
    await starting
    assert outcome.state == "stopped"
    assert run.processor("out").closed == 1
    assert run.processor("out").batches == []


@pytest.mark.parametrize(
    ("nodes", "edges", "message"),
    [
        ({"src": "nope"}, [], "nodes[0].type: node 'src': unknown processor type 'nope'"),
        (
            {"src": ("list_source", {"batch_size": 0})},
            [],
            "nodes[0].config.batch_size: list_source in node 'src': Expected `int` >= 1",
        ),
        (
            {"src": "list_source", "f": ("filter", {"condition": "true"})},
            ["src -> f", "f:out -> src"],
            "edges[1].source_port: edge 'e2': node 'f' has no output port 'out' (its output "
            "ports: matched, unmatched) (and 1 more)",
        ),
        (
            {"src": "list_source", "out": "list_sink"},
            ["src -> out:left"],
            "edges[0].target_port: edge 'e1': node 'out' has no input port 'left' (its input "
            "ports: in) (and 1 more)",
        ),
        (
            {"a": ("filter", {"condition": "true"}), "b": ("filter", {"condition": "true"})},
            ["a:matched -> b", "b:matched -> a"],
            "nodes[0]: cycle through nodes a -> b -> a",
        ),
    ],
)
def test_a_flow_that_cannot_run_is_refused_with_the_place_named(make_flow, nodes, edges, message):
    with pytest.raises(FlowBuildError) as info:
        FlowRun.of(make_flow(nodes, edges), REGISTRY)
    assert str(info.value) == message
