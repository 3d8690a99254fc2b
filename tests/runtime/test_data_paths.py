"""How batches move: fan-out, fan-in, unconnected ports, tables, ordered concurrency, barriers."""

from __future__ import annotations

import asyncio
import threading
import time

import pyarrow as pa

from dataflow.processor import ProcessorSpec, Transform, TransformConfig
from dataflow.runtime import CheckpointCompleted, FlowRun
from dataflow.testing import registry_with, run_flow
from dataflow_processors.filter import Filter


class SlowFirst(Transform[TransformConfig]):
    """Takes longer on early batches, so with concurrency later ones finish first."""

    spec = ProcessorSpec(
        name="slow_first", category="transform", summary="t", inputs=("in",), outputs=("out",)
    )

    def __init__(self, config: TransformConfig, context=None):
        super().__init__(config, context)
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch]:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        time.sleep(0.004 * (8 - batch.column("i")[0].as_py() % 8))
        with self.lock:
            self.active -= 1
        return {"out": batch}


class Chunky(Transform[TransformConfig]):
    """Emits a two-chunk table on `out` and an empty batch on `extra`."""

    spec = ProcessorSpec(
        name="chunky",
        category="transform",
        summary="t",
        inputs=("in",),
        outputs=("out", "extra"),
    )

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.Table | pa.RecordBatch]:
        return {"out": pa.Table.from_batches([batch, batch]), "extra": batch.slice(0, 0)}


class Union(Transform[TransformConfig]):
    """Passes batches from its two ports on."""

    spec = ProcessorSpec(
        name="union",
        category="transform",
        summary="t",
        inputs=("left", "right"),
        outputs=("out",),
    )

    def process(self, port: str, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch]:
        return {"out": batch}


REGISTRY = registry_with(Filter, SlowFirst, Chunky, Union)


def numbers(n: int, batch_size: int = 1, **more) -> tuple[str, dict]:
    return ("list_source", {"rows": [{"i": i} for i in range(n)], "batch_size": batch_size, **more})


async def test_fan_out_hands_the_same_batch_object_to_every_edge(make_flow, capacity):
    flow = make_flow(
        {"src": numbers(20, 3), "a": "list_sink", "b": "list_sink"},
        ["src -> a", "src -> b"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    assert (await asyncio.wait_for(run.wait(), 10)).state == "completed"
    a, b = run.processor("a").batches, run.processor("b").batches
    assert len(a) == len(b) == 7
    assert all(x is y for x, y in zip(a, b, strict=True))


async def test_fan_in_merges_every_input(make_flow, capacity):
    flow = make_flow(
        {
            "one": numbers(30, 2),
            "two": ("list_source", {"rows": [{"i": 100 + i} for i in range(25)], "batch_size": 4}),
            "out": "list_sink",
        },
        ["one -> out", "two -> out"],
        capacity,
    )
    result = await run_flow(flow, REGISTRY)
    assert result.state == "completed"
    got = [r["i"] for r in result.outputs["out"]]
    assert sorted(got) == list(range(30)) + list(range(100, 125))
    # Each input keeps its own order.
    assert [i for i in got if i < 100] == list(range(30))


async def test_a_port_without_edges_discards_and_counts(make_flow, capacity):
    flow = make_flow(
        {"src": numbers(10, 4), "keep": ("filter", {"condition": "i < 3"}), "out": "list_sink"},
        ["src -> keep", "keep:matched -> out"],
        capacity,
    )
    result = await run_flow(flow, REGISTRY)
    assert result.outputs["out"] == [{"i": i} for i in range(3)]
    assert result.metrics.nodes["keep"].discarded_records == 7
    assert result.metrics.nodes["keep"].records_out == {"matched": 3, "unmatched": 7}


async def test_tables_are_split_into_batches_and_empty_batches_are_not_sent(make_flow, capacity):
    flow = make_flow(
        {"src": numbers(3, 3), "chunky": "chunky", "out": "list_sink", "extra": "list_sink"},
        ["src -> chunky", "chunky -> out", "chunky:extra -> extra"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    assert (await asyncio.wait_for(run.wait(), 10)).state == "completed"
    assert [b.num_rows for b in run.processor("out").batches] == [3, 3]
    assert run.processor("extra").batches == []
    assert run.metrics().edges["e3"].batches == 0


async def test_concurrency_processes_batches_at_once_and_keeps_their_order(make_flow, capacity):
    flow = make_flow(
        {"src": numbers(24), "slow": ("slow_first", {"concurrency": 4}), "out": "list_sink"},
        ["src -> slow", "slow -> out"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    assert (await asyncio.wait_for(run.wait(), 20)).state == "completed"
    assert run.processor("out").rows == [{"i": i} for i in range(24)]
    slow = run.processor("slow")
    assert 1 < slow.most_active <= 4


async def test_a_barrier_goes_on_once_it_came_on_both_inputs(make_flow, capacity, until):
    flow = make_flow(
        {
            "one": numbers(1, repeat=0, delay_seconds=0.001),
            "two": numbers(1, repeat=0, delay_seconds=0.003),
            "union": "union",
            "out": "list_sink",
        },
        ["one -> union:left", "two -> union:right", "union -> out"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY)
    sink_rows_at_checkpoint: list[int] = []
    run.subscribe(
        lambda n: (
            isinstance(n, CheckpointCompleted)
            and sink_rows_at_checkpoint.append(len(run.processor("out").batches))
        )
    )
    await run.start()
    await until(lambda: len(run.processor("out").batches) >= 5)
    offsets = (await asyncio.wait_for(run.checkpoint(), 10)).offsets
    assert set(offsets) == {"one", "two"}
    # Every record before the barrier, on both inputs, was written when it completed.
    assert sink_rows_at_checkpoint[0] >= offsets["one"] + offsets["two"]
    # The sink saw one aligned barrier (flushed for it), not one per union input.
    assert run.processor("out").flushes == 1
    await run.stop()
    assert run.processor("out").flushes == 2


async def test_a_barrier_waits_for_every_input_of_a_sink(make_flow, capacity, until):
    flow = make_flow(
        {
            "one": numbers(1, repeat=0, delay_seconds=0.001),
            "two": numbers(1, repeat=0, delay_seconds=0.002),
            "out": "list_sink",
        },
        ["one -> out", "two -> out"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: len(run.processor("out").batches) >= 3)
    first = (await asyncio.wait_for(run.checkpoint(), 10)).offsets
    second = (await asyncio.wait_for(run.checkpoint(), 10)).offsets
    assert second["one"] >= first["one"]
    assert run.processor("out").flushes == 2
    await run.stop()


async def test_a_checkpoint_after_a_source_ended_uses_its_final_offset(make_flow, until):
    flow = make_flow(
        {"done": numbers(3), "busy": numbers(1, repeat=0, delay_seconds=0.001), "out": "list_sink"},
        ["done -> out", "busy -> out"],
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: run.metrics().nodes["done"].state == "finished")
    offsets = (await asyncio.wait_for(run.checkpoint(), 10)).offsets
    assert offsets["done"] == 3
    await run.stop()
