"""Each node's on_error policy: fail, retry, drop, route; for transforms, sinks and sources."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import ProcessorSpec, Sink, Transform, TransformConfig
from dataflow.runtime import FlowRun
from dataflow.testing import ListSource, ListSourceConfig, registry_with, run_flow


class ExplodeConfig(TransformConfig, kw_only=True):
    #: Batches holding this value of `i` fail.
    bad: int = -1
    #: Calls that fail first, whatever the batch.
    fail_first: int = 0


class Explode(Transform[ExplodeConfig]):
    spec = ProcessorSpec(
        name="explode", category="transform", summary="t", inputs=("in",), outputs=("out",)
    )

    def __init__(self, config: ExplodeConfig, context=None):
        super().__init__(config, context)
        self.calls = 0
        self.closed = False

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch]:
        self.calls += 1
        if self.calls <= self.config.fail_first:
            raise ConnectionError(f"flaky call {self.calls}")
        if pc.any(pc.equal(batch.column("i"), self.config.bad)).as_py():
            raise ValueError(f"cannot take i={self.config.bad}")
        return {"out": batch}

    async def close(self) -> None:
        self.closed = True


class RejectingSink(Sink[ExplodeConfig]):
    spec = ProcessorSpec(name="rejecting_sink", category="sink", summary="t", inputs=("in",))

    def write(self, batch: pa.RecordBatch) -> None:
        if pc.any(pc.equal(batch.column("i"), self.config.bad)).as_py():
            raise ValueError("rejected by the database")


class FlakySource(ListSource):
    """A list source whose stream breaks once, after two batches."""

    spec = ProcessorSpec(name="flaky_source", category="source", summary="t", outputs=("out",))
    broke = 0

    def __init__(self, config: ListSourceConfig, context=None):
        super().__init__(config, context)
        self.opened_streams = 0

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        self.opened_streams += 1
        async for batch in super().batches():
            if self.offset() >= 3 and not FlakySource.broke:
                FlakySource.broke += 1
                raise OSError("connection reset")
            yield batch


REGISTRY = registry_with(Explode, RejectingSink, FlakySource)


def flow_through(make_flow, capacity: int, explode: dict[str, Any], n: int = 6):
    routed = explode.get("on_error") == "route"
    nodes = {
        "src": ("list_source", {"rows": [{"i": i} for i in range(n)], "batch_size": 1}),
        "boom": ("explode", explode),
        "out": "list_sink",
    }
    edges = ["src -> boom", "boom -> out"]
    if routed:  # a sink whose input is not connected would not validate
        nodes["failed"] = "list_sink"
        edges.append("boom:failure -> failed")
    return make_flow(nodes, edges, capacity)


async def test_fail_stops_the_run_naming_the_node(make_flow, capacity):
    run = FlowRun.of(flow_through(make_flow, capacity, {"bad": 2}), REGISTRY)
    await run.start()
    outcome = await asyncio.wait_for(run.wait(), 10)
    assert outcome.state == "failed"
    assert outcome.error_node == "boom"
    assert outcome.error == "explode in node 'boom': cannot take i=2"
    assert run.processor("boom").closed
    metrics = run.metrics()
    assert metrics.nodes["boom"].state == "failed"
    assert metrics.nodes["boom"].errors == 1
    assert metrics.nodes["boom"].last_error == "cannot take i=2"


async def test_retry_succeeds_on_the_second_attempt(make_flow, capacity):
    config = {"fail_first": 1, "on_error": "retry", "retry_backoff_seconds": 0.001}
    result = await run_flow(flow_through(make_flow, capacity, config), REGISTRY)
    assert result.state == "completed"
    assert result.outputs["out"] == [{"i": i} for i in range(6)]
    node = result.metrics.nodes["boom"]
    assert (node.errors, node.retries) == (1, 1)
    assert node.last_error == "flaky call 1"


async def test_retry_exhausted_fails_the_run(make_flow, capacity):
    config = {
        "fail_first": 100,
        "on_error": "retry",
        "max_retries": 2,
        "retry_backoff_seconds": 0.001,
    }
    result = await run_flow(flow_through(make_flow, capacity, config), REGISTRY)
    assert result.state == "failed"
    assert result.error_node == "boom"
    assert result.error == "explode in node 'boom': flaky call 3 (after 2 retries)"
    assert (result.metrics.nodes["boom"].errors, result.metrics.nodes["boom"].retries) == (3, 2)


async def test_drop_discards_the_batch_counts_it_and_completes(make_flow, capacity):
    result = await run_flow(
        flow_through(make_flow, capacity, {"bad": 3, "on_error": "drop"}), REGISTRY
    )
    assert result.state == "completed"
    assert result.outputs["out"] == [{"i": i} for i in range(6) if i != 3]
    assert result.metrics.nodes["boom"].errors == 1
    assert result.metrics.nodes["boom"].records_in == {"in": 6}


async def test_route_sends_the_batch_with_an_error_column_to_failure(make_flow, capacity):
    result = await run_flow(
        flow_through(make_flow, capacity, {"bad": 3, "on_error": "route"}), REGISTRY
    )
    assert result.state == "completed"
    assert result.outputs["out"] == [{"i": i} for i in range(6) if i != 3]
    assert result.outputs["failed"] == [{"i": 3, "error": "cannot take i=3"}]
    assert result.metrics.nodes["boom"].records_out == {"out": 5, "failure": 1}


async def test_a_sink_routes_what_it_rejects(make_flow, capacity):
    flow = make_flow(
        {
            "src": ("list_source", {"rows": [{"i": i} for i in range(4)], "batch_size": 1}),
            "db": ("rejecting_sink", {"bad": 1, "on_error": "route"}),
            "dead_letters": "list_sink",
        },
        ["src -> db", "db:failure -> dead_letters"],
        capacity,
    )
    result = await run_flow(flow, REGISTRY)
    assert result.state == "completed"
    assert result.outputs["dead_letters"] == [{"i": 1, "error": "rejected by the database"}]


async def test_a_source_retry_reopens_the_stream_from_its_last_offset(make_flow, capacity):
    FlakySource.broke = 0
    flow = make_flow(
        {
            "src": (
                "flaky_source",
                {
                    "rows": [{"i": i} for i in range(6)],
                    "batch_size": 1,
                    "on_error": "retry",
                    "retry_backoff_seconds": 0.001,
                },
            ),
            "out": "list_sink",
        },
        ["src -> out"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    assert (await asyncio.wait_for(run.wait(), 10)).state == "completed"
    assert run.processor("out").rows == [{"i": i} for i in range(6)]  # each exactly once
    assert run.processor("src").opened_streams == 2
    assert run.offsets() == {"src": 6}
    assert run.metrics().nodes["src"].retries == 1


async def test_a_failing_source_fails_the_run(make_flow, capacity):
    FlakySource.broke = 0
    flow = make_flow(
        {"src": ("flaky_source", {"rows": [{"i": i} for i in range(6)]}), "out": "list_sink"},
        ["src -> out"],
        capacity,
    )
    result = await run_flow(flow, REGISTRY)
    assert (result.state, result.error_node) == ("failed", "src")
    assert result.error == "flaky_source in node 'src': connection reset"


async def test_an_open_failure_fails_the_run_and_closes_what_was_opened(make_flow):
    class Unreachable(Explode):
        spec = ProcessorSpec(
            name="unreachable",
            category="transform",
            summary="t",
            inputs=("in",),
            outputs=("out",),
        )

        async def open(self) -> None:
            raise ConnectionRefusedError("db:5432 refused the connection")

    flow = make_flow(
        {"src": "list_source", "db": "unreachable", "out": "list_sink"},
        ["src -> db", "db -> out"],
    )
    run = FlowRun.of(flow, registry_with(Unreachable))
    await run.start()
    outcome = await asyncio.wait_for(run.wait(), 10)
    assert outcome.state == "failed"
    assert outcome.error_node == "db"
    assert outcome.error == "unreachable in node 'db': open: db:5432 refused the connection"
    assert run.processor("db").closed
