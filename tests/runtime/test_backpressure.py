"""A full queue blocks its producer all the way back to the source, which stops reading."""

from __future__ import annotations

import asyncio

import pytest

from dataflow.runtime import FlowRun, OffsetsChanged
from dataflow.testing import registry_with
from dataflow_processors.filter import Filter

REGISTRY = registry_with(Filter)


@pytest.mark.parametrize("max_batches", [1, 2])
async def test_a_slow_sink_holds_the_source_back(make_flow, max_batches):
    flow = make_flow(
        {
            "src": ("list_source", {"rows": [{"i": i} for i in range(40)], "batch_size": 1}),
            "out": ("list_sink", {"delay_seconds": 0.005}),
        },
        ["src -> out"],
        max_batches,
    )
    run = FlowRun.of(flow, REGISTRY)
    sink = run.processor("out")
    ahead: list[int] = []
    queued: list[int] = []

    def on_notice(notice) -> None:
        if isinstance(notice, OffsetsChanged):
            # Batches the source produced but the sink has not finished writing.
            ahead.append(notice.offset - len(sink.batches))
            queued.append(run.metrics().edges["e1"].queued_batches)

    run.subscribe(on_notice)
    await run.start()
    assert (await asyncio.wait_for(run.wait(), 10)).state == "completed"
    # Never more than the queue plus the one batch inside the sink's write call.
    assert max(ahead) <= max_batches + 1
    assert max(queued) <= max_batches
    assert run.metrics().edges["e1"].backpressure_seconds > 0
    assert len(sink.rows) == 40


async def test_the_block_reaches_the_source_through_a_transform(make_flow, until):
    flow = make_flow(
        {
            "src": ("list_source", {"rows": [{"i": 0}], "repeat": 0}),
            "keep": ("filter", {"condition": "true"}),
            "out": ("list_sink", {"delay_seconds": 0.01}),
        },
        ["src -> keep", "keep:matched -> out"],
        2,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: len(run.processor("out").batches) >= 10)
    produced = run.offsets()["src"]
    consumed = len(run.processor("out").batches)
    # Two queues of 2 plus one batch inside each of the filter and sink calls; a batch the
    # source holds while blocked does not count in its offset yet.
    assert produced - consumed <= 2 + 1 + 2 + 1
    metrics = run.metrics()
    assert metrics.edges["e2"].backpressure_seconds > 0
    assert metrics.edges["e1"].backpressure_seconds > 0  # the filter blocked the source too
    await run.stop(force=True)


async def test_the_byte_threshold_also_holds_the_source_back(make_flow):
    rows = [{"i": i, "text": "x" * 1000} for i in range(20)]
    flow = make_flow(
        {
            "src": ("list_source", {"rows": rows, "batch_size": 1}),
            "out": ("list_sink", {"delay_seconds": 0.003}),
        },
        ["src -> out"],
    )
    flow.edges[0].settings.max_bytes = 2500  # two batches of ~1 KiB
    run = FlowRun.of(flow, REGISTRY)
    queued: list[int] = []
    run.subscribe(lambda n: queued.append(run.metrics().edges["e1"].queued_bytes))
    await run.start()
    assert (await asyncio.wait_for(run.wait(), 10)).state == "completed"
    assert max(queued) <= 2500
    assert run.metrics().edges["e1"].backpressure_seconds > 0
