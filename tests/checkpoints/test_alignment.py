"""Barriers: a node with several inputs aligns them (Flink-style), then snapshots between two
batches; sources send barriers even while they wait for input."""

from __future__ import annotations

import asyncio
import json

from dataflow.runtime import FlowRun
from tests.checkpoints.support import REGISTRY


def endless(delay: float = 0.0, batch_size: int = 1) -> tuple[str, dict]:
    return (
        "list_source",
        {"rows": [{"i": 1}], "repeat": 0, "batch_size": batch_size, "delay_seconds": delay},
    )


async def test_the_fast_input_is_held_at_the_barrier_until_the_slow_one_sends_it(
    make_flow, capacity, until
):
    # The slow input's barrier comes after the backlog queued before `slow` drains, while
    # the fast input keeps producing: without alignment, the recorder would process fast
    # records sent after the barrier before it snapshots.
    flow = make_flow(
        {
            "fast": endless(delay=0.0005),
            "slow_src": endless(),
            "slow": ("sleepy", {"delay_seconds": 0.004}),
            "rec": "recorder",
            "out": "list_sink",
        },
        ["fast -> rec:left", "slow_src -> slow", "slow -> rec:right", "rec -> out"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: run.metrics().edges["e2"].queued_batches >= capacity)
    checkpoint = await asyncio.wait_for(run.checkpoint(), 20)
    seen = json.loads(checkpoint.state["rec"])
    # Exactly the records each source sent before its barrier: none after, none missing.
    assert len(seen["left"]) == checkpoint.offsets["fast"]
    assert len(seen["right"]) == checkpoint.offsets["slow_src"]
    # The fast source went on meanwhile: its later records waited in the queue.
    assert run.offsets()["fast"] > checkpoint.offsets["fast"]
    outcome = await asyncio.wait_for(run.stop(), 20)
    assert outcome.state == "stopped"
    rows = run.processor("out").rows
    assert len(rows) == run.offsets()["fast"] + run.offsets()["slow_src"]


async def test_consecutive_checkpoints_each_snapshot_what_came_before_their_barrier(
    make_flow, capacity, until
):
    flow = make_flow(
        {
            "one": endless(delay=0.001),
            "two": endless(delay=0.002),
            "rec": "recorder",
            "out": "list_sink",
        },
        ["one -> rec:left", "two -> rec:right", "rec -> out"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: len(run.processor("out").batches) >= 3)
    taken = [await asyncio.wait_for(run.checkpoint(), 20) for _ in range(3)]
    assert [c.checkpoint_id for c in taken] == [1, 2, 3]
    for checkpoint in taken:
        seen = json.loads(checkpoint.state["rec"])
        assert (len(seen["left"]), len(seen["right"])) == (
            checkpoint.offsets["one"],
            checkpoint.offsets["two"],
        )
    await asyncio.wait_for(run.stop(), 20)


async def test_an_input_that_ends_completes_the_alignment(make_flow, capacity, until):
    flow = make_flow(
        {
            "short": ("list_source", {"rows": [{"i": i} for i in range(5)], "batch_size": 1}),
            "long": endless(delay=0.001),
            "rec": "recorder",
            "out": "list_sink",
        },
        ["short -> rec:left", "long -> rec:right", "rec -> out"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: run.metrics().nodes["short"].state == "finished")
    checkpoint = await asyncio.wait_for(run.checkpoint(), 20)
    seen = json.loads(checkpoint.state["rec"])
    assert seen["left"] == [0, 1, 2, 3, 4]
    assert len(seen["right"]) == checkpoint.offsets["long"]
    assert checkpoint.offsets["short"] == 5
    await asyncio.wait_for(run.stop(), 20)


async def test_a_source_waiting_for_input_does_not_hold_a_checkpoint_up(make_flow, until):
    # The source's second batch comes in an hour: its barrier must not wait for it.
    flow = make_flow(
        {
            "idle": ("list_source", {"rows": [{"i": 1}], "repeat": 0, "delay_seconds": 3600}),
            "busy": endless(delay=0.001),
            "out": "two_phase_sink",
        },
        ["idle -> out", "busy -> out"],
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: (run.offsets().get("busy") or 0) >= 3)
    checkpoint = await asyncio.wait_for(run.checkpoint(), 20)
    assert "idle" not in checkpoint.offsets  # it has read nothing yet
    assert run.processor("out").rows  # published
    assert (await asyncio.wait_for(run.stop(), 20)).state == "stopped"


async def test_a_stateless_concurrent_transform_passes_barriers_in_order(
    make_flow, capacity, until
):
    flow = make_flow(
        {
            "src": endless(delay=0.001),
            "slow": ("sleepy", {"delay_seconds": 0.002, "concurrency": 4}),
            "out": "two_phase_sink",
        },
        ["src -> slow", "slow -> out"],
        capacity,
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: (run.offsets().get("src") or 0) >= 5)
    checkpoint = await asyncio.wait_for(run.checkpoint(), 20)
    # Published at the commit: exactly what the source sent before the barrier.
    assert len(run.processor("out").rows) == checkpoint.offsets["src"]
    await asyncio.wait_for(run.stop(), 20)
    assert len(run.processor("out").rows) == run.offsets()["src"]
