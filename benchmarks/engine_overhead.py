"""Per-batch overhead of the engine: 1-row batches through source -> no-op transform -> sink.

Compared with a plain script doing the same calls (the transform and the sink each in a
worker thread, as the engine runs them) without queues, metrics or samples.
Run: .venv/bin/python benchmarks/engine_overhead.py [--batches N] [--capacity N] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import pyarrow as pa

from dataflow.model import Edge, EdgeSettings, Flow, Node
from dataflow.processor import (
    ProcessorConfig,
    ProcessorSpec,
    Sink,
    Transform,
    TransformConfig,
)
from dataflow.runtime import FlowRun, RunContext
from dataflow.testing import registry_with


class Noop(Transform[TransformConfig]):
    spec = ProcessorSpec(
        name="noop",
        category="transform",
        summary="Pass batches on.",
        inputs=("in",),
        outputs=("out",),
    )

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch]:
        return {"out": batch}


class Discard(Sink[ProcessorConfig]):
    spec = ProcessorSpec(name="discard", category="sink", summary="Drop batches.", inputs=("in",))

    def write(self, batch: pa.RecordBatch) -> None:
        return None


def flow(batches: int, capacity: int) -> Flow:
    settings = EdgeSettings(max_batches=capacity)
    return Flow(
        name="engine overhead",
        nodes=[
            # One row repeated: what a generate source with batch_size=1 hands the engine.
            Node(
                id="gen",
                type="list_source",
                config={"rows": [{"id": 1, "name": "x"}], "repeat": batches},
            ),
            Node(id="noop", type="noop"),
            Node(id="sink", type="discard"),
        ],
        edges=[
            Edge(id="e1", source="gen", target="noop", settings=settings),
            Edge(id="e2", source="noop", target="sink", settings=settings),
        ],
    )


async def measure(batches: int, capacity: int) -> float:
    run = FlowRun.of(
        flow(batches, capacity), registry_with(Noop, Discard), context=RunContext(sample_size=200)
    )
    started = time.perf_counter()
    await run.start()
    outcome = await run.wait()
    elapsed = time.perf_counter() - started
    assert outcome.state == "completed", outcome
    assert run.metrics().nodes["sink"].batches_in == batches
    return batches / elapsed


async def baseline(batches: int) -> float:
    """The same processor calls in a plain loop: what the engine adds is the difference."""
    noop, discard = Noop(TransformConfig()), Discard(ProcessorConfig())
    batch = pa.RecordBatch.from_pylist([{"id": 1, "name": "x"}])
    started = time.perf_counter()
    for _ in range(batches):
        out = await noop.process_async("in", batch)
        await discard.write_async(out["out"])
    return batches / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20_000)
    parser.add_argument("--capacity", type=int, default=64, help="max_batches of every edge")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="one JSON line (file_flow.py reads it)")
    args = parser.parse_args()
    rates = [asyncio.run(measure(args.batches, args.capacity)) for _ in range(args.rounds)]
    best = max(rates)
    plain = max(asyncio.run(baseline(args.batches)) for _ in range(args.rounds))
    if args.json:
        figures = {
            "batches": args.batches,
            "batches_per_s": best,
            "us_per_batch": 1e6 / best,
            "plain_batches_per_s": plain,
        }
        print(json.dumps(figures))
        return
    print(
        f"engine overhead: {args.batches} one-row batches, 3 nodes, queue capacity {args.capacity}"
    )
    for rate in rates:
        print(f"  {rate:,.0f} batches/s")
    print(f"best: {best:,.0f} batches/s = {1e6 / best:.1f} us per batch through 3 nodes")
    print(f"plain loop, same two thread calls per batch: {plain:,.0f} batches/s")


if __name__ == "__main__":
    main()
