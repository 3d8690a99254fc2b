"""A run restarted from a checkpoint goes on as if it had never stopped: source offsets and
node state restored; interrupting takes a last checkpoint and finishes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from dataflow.runtime import Checkpoint, FlowRun
from dataflow.testing import run_flow
from tests.checkpoints.support import REGISTRY, RecordingCheckpoints, store

EVENTS = [{"t": i * 0.5, "g": i % 3, "v": i} for i in range(600)]
WINDOWED = {
    "group_by": ["g"],
    "aggregations": [{"function": "count", "as": "n"}, {"function": "sum", "column": "v"}],
    "mode": {
        "kind": "tumbling",
        "time_column": "t",
        "window_seconds": 10,
        "max_out_of_orderness_seconds": 2,
    },
}


def windowed_flow(make_flow, capacity: int, sink: str = "list_sink", delay: float = 0.0):
    return make_flow(
        {
            "src": ("list_source", {"rows": EVENTS, "batch_size": 7, "delay_seconds": delay}),
            "agg": ("aggregate", WINDOWED),
            "out": sink,
        },
        ["src -> agg", "agg -> out"],
        capacity,
    )


async def uninterrupted(make_flow, capacity: int) -> list[dict[str, Any]]:
    result = await run_flow(windowed_flow(make_flow, capacity), REGISTRY)
    assert result.state == "completed"
    return result.outputs["out"]


async def test_an_interrupted_windowed_aggregate_resumes_with_the_same_windows(
    make_flow, capacity, until
):
    expected = await uninterrupted(make_flow, capacity)
    flow = windowed_flow(make_flow, capacity, delay=0.002)
    checkpoints = RecordingCheckpoints()
    first = FlowRun.of(flow, REGISTRY, store=checkpoints)
    await first.start()
    await until(lambda: len(first.processor("out").rows) >= 6)
    outcome = await asyncio.wait_for(first.interrupt(timeout=20), 20)
    assert (outcome.state, outcome.interrupted, outcome.forced) == ("stopped", True, False)
    last = checkpoints.last
    assert last is not None and "agg" in last.state
    assert last.offsets["src"] < len(EVENTS)
    # Cancelled, not finished: no open window went out early.
    assert first.metrics().nodes["agg"].state == "cancelled"
    before = first.processor("out").rows

    second = FlowRun.of(flow, REGISTRY, restore=last)
    await second.start()
    assert (await asyncio.wait_for(second.wait(), 20)).state == "completed"
    assert before + second.processor("out").rows == expected


async def test_a_crash_replays_from_the_checkpoint_into_an_exactly_once_sink(
    make_flow, capacity, until
):
    expected = await uninterrupted(make_flow, capacity)
    flow = windowed_flow(make_flow, capacity, sink="two_phase_sink", delay=0.002)
    checkpoints = RecordingCheckpoints()
    first = FlowRun.of(flow, REGISTRY, store=checkpoints)
    await first.start()
    await until(lambda: (first.offsets().get("src") or 0) >= 150)
    await asyncio.wait_for(first.checkpoint(), 20)
    await until(lambda: first.offsets()["src"] >= 250)
    # A crash: written since the checkpoint, never prepared; no last checkpoint.
    await asyncio.wait_for(first.stop(force=True), 20)
    last = checkpoints.last
    assert last is not None and last.checkpoint_id == 1
    assert first.offsets()["src"] > last.offsets["src"]

    second = FlowRun.of(flow, REGISTRY, restore=last)
    await second.start()
    assert (await asyncio.wait_for(second.wait(), 20)).state == "completed"
    assert store().names("recover")[-1] == ("recover", 1, "out")
    assert store().published == expected  # no window twice, none missing


async def test_interrupting_keeps_the_state_that_finish_would_have_emitted(make_flow, until):
    flow = make_flow(
        {
            "src": ("list_source", {"rows": [{"i": 1}], "repeat": 0, "delay_seconds": 0.001}),
            "count": "count",
            "out": "list_sink",
        },
        ["src -> count", "count -> out"],
    )
    checkpoints = RecordingCheckpoints()
    run = FlowRun.of(flow, REGISTRY, store=checkpoints)
    await run.start()
    await until(lambda: (run.offsets().get("src") or 0) >= 10)
    await asyncio.wait_for(run.interrupt(timeout=20), 20)
    assert not run.processor("count").finished
    assert run.processor("out").rows == []
    last = checkpoints.last
    assert last is not None
    # Every record the source sent before its last barrier is in the count.
    assert last.state["count"] == str(last.offsets["src"]).encode()
    assert last.offsets["src"] == run.offsets()["src"]  # sources read nothing after it


async def test_interrupting_a_paused_run_still_checkpoints(make_flow, until):
    flow = make_flow(
        {
            "src": ("list_source", {"rows": [{"i": 1}], "repeat": 0}),
            "count": "count",
            "out": "list_sink",
        },
        ["src -> count", "count -> out"],
        capacity=4,
    )
    checkpoints = RecordingCheckpoints()
    run = FlowRun.of(flow, REGISTRY, store=checkpoints)
    await run.start()
    await until(lambda: (run.offsets().get("src") or 0) >= 10)
    await run.pause()
    await asyncio.sleep(0.05)  # a batch being read when pause came may still arrive
    paused_at = run.offsets()["src"]
    outcome = await asyncio.wait_for(run.interrupt(timeout=20), 20)
    assert outcome.interrupted
    last = checkpoints.last
    assert last is not None
    # Queued records went through, and the one the source held when paused (its queue was
    # full); nothing new was read.
    assert paused_at <= last.offsets["src"] <= paused_at + 1
    assert last.offsets["src"] == run.offsets()["src"]
    assert last.state["count"] == str(last.offsets["src"]).encode()


async def test_a_finite_run_interrupted_after_its_end_completes(make_flow):
    flow = make_flow(
        {"src": ("list_source", {"rows": [{"i": 1}] * 5}), "count": "count", "out": "list_sink"},
        ["src -> count", "count -> out"],
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    assert (await asyncio.wait_for(run.wait(), 20)).state == "completed"
    outcome = await run.interrupt()
    assert (outcome.state, outcome.interrupted) == ("completed", False)
    assert run.processor("out").rows == [{"count": 5}]


async def test_run_flow_resumes_from_a_given_checkpoint(make_flow, capacity):
    flow = make_flow(
        {"src": ("list_source", {"rows": [{"i": 1}] * 10}), "count": "count", "out": "list_sink"},
        ["src -> count", "count -> out"],
        capacity,
    )
    restore = Checkpoint(3, {"src": 4}, {"count": b"40"})
    result = await run_flow(flow, REGISTRY, restore=restore)
    assert result.outputs["out"] == [{"count": 46}]  # the state's 40, then records 5 to 10
