"""The two-phase commit: sinks prepare at the barrier, the store commits, then sinks publish
and sources acknowledge; recovery before open; the end of a run is a last checkpoint."""

from __future__ import annotations

import asyncio

import pytest

from dataflow.runtime import Checkpoint, FlowRun
from dataflow.testing import run_sink
from tests.checkpoints.support import REGISTRY, RecordingCheckpoints, TwoPhaseSink, store


def ack_source(n: int = 0, delay: float = 0.0, **more) -> tuple[str, dict]:
    """n records (0: endless, one record per batch)."""
    rows = [{"i": i} for i in range(max(n, 1))]
    return (
        "ack_source",
        {"rows": rows, "batch_size": 1, "repeat": 1 if n else 0, "delay_seconds": delay, **more},
    )


async def test_sinks_publish_and_sources_acknowledge_only_after_the_store_committed(
    make_flow, capacity, until
):
    flow = make_flow(
        {"src": ack_source(delay=0.001), "out": "two_phase_sink"}, ["src -> out"], capacity
    )
    checkpoints = RecordingCheckpoints()
    run = FlowRun.of(flow, REGISTRY, store=checkpoints)
    await run.start()
    await until(lambda: (run.offsets().get("src") or 0) >= 3)
    first = await asyncio.wait_for(run.checkpoint(), 20)
    calls = store().names()
    assert calls == [
        ("recover", None, "out"),  # a fresh run: staged leftovers are discarded
        ("open", "out"),  # sinks open first, before any recovery of sources' data
        ("source open", "src"),
        ("prepare", 1, "out"),
        ("store", 1),
        ("commit", 1, "out"),
        ("ack", first.offsets["src"], "src"),
    ]
    assert store().published == [{"i": 0}] * first.offsets["src"]
    await asyncio.wait_for(run.stop(), 20)
    final = checkpoints.last
    assert final is not None and final.checkpoint_id == 2
    assert final.offsets == {"src": run.offsets()["src"]}
    # The stop drained, then its last checkpoint: published, acknowledged, then closed.
    assert store().names()[7:] == [
        ("prepare", 2, "out"),
        ("store", 2),
        ("commit", 2, "out"),
        ("ack", final.offsets["src"], "src"),
        ("source close", "src"),
        ("close", "out"),
    ]
    assert len(store().published) == run.offsets()["src"]


async def test_the_end_of_the_data_is_the_last_checkpoint(make_flow, capacity):
    flow = make_flow({"src": ack_source(7), "out": "two_phase_sink"}, ["src -> out"], capacity)
    checkpoints = RecordingCheckpoints()
    run = FlowRun.of(flow, REGISTRY, store=checkpoints)
    await run.start()
    assert (await asyncio.wait_for(run.wait(), 20)).state == "completed"
    assert store().names() == [
        ("recover", None, "out"),
        ("open", "out"),
        ("source open", "src"),
        ("prepare", 1, "out"),
        ("store", 1),
        ("commit", 1, "out"),
        ("ack", 7, "src"),
        ("source close", "src"),
        ("close", "out"),
    ]
    assert store().published == [{"i": i} for i in range(7)]


async def test_a_restored_run_recovers_its_sinks_before_opening_and_numbers_on(make_flow, until):
    flow = make_flow({"src": ack_source(delay=0.001), "out": "two_phase_sink"}, ["src -> out"])
    store().staged = {4: [{"i": "committed"}], 5: [{"i": "after the checkpoint"}]}
    checkpoints = RecordingCheckpoints()
    run = FlowRun.of(flow, REGISTRY, store=checkpoints, restore=Checkpoint(4, {"src": 10}))
    await run.start()
    assert store().names()[:2] == [("recover", 4, "out"), ("open", "out")]
    # Staged for the committed checkpoint: published; staged after it: discarded.
    assert store().published == [{"i": "committed"}]
    await until(lambda: run.offsets()["src"] >= 12)
    assert (await asyncio.wait_for(run.checkpoint(), 20)).checkpoint_id == 5
    await asyncio.wait_for(run.stop(), 20)
    assert [c.checkpoint_id for c in checkpoints.committed] == [5, 6]
    assert {"i": "after the checkpoint"} not in store().published


async def test_a_checkpoint_the_store_refuses_publishes_nothing(make_flow, until):
    flow = make_flow({"src": ack_source(delay=0.001), "out": "two_phase_sink"}, ["src -> out"])
    checkpoints = RecordingCheckpoints()
    checkpoints.fail = True
    run = FlowRun.of(flow, REGISTRY, store=checkpoints)
    await run.start()
    await until(lambda: (run.offsets().get("src") or 0) >= 3)
    with pytest.raises(OSError, match="unreachable"):
        await asyncio.wait_for(run.checkpoint(), 20)
    assert store().names("commit", "ack") == []
    assert store().published == []
    assert run.state == "running"  # the run goes on; the next checkpoint covers the data
    checkpoints.fail = False
    second = await asyncio.wait_for(run.checkpoint(), 20)
    # The refused checkpoint is committed first: a sink may be waiting for its commit
    # before it writes on (kafka_publish: one transaction at a time).
    assert [c.checkpoint_id for c in checkpoints.committed] == [1, 2]
    assert store().names("commit") == [("commit", 1, "out"), ("commit", 2, "out")]
    assert second.checkpoint_id == 2
    assert len(store().published) == second.offsets["src"]
    await asyncio.wait_for(run.stop(), 20)


async def test_a_sink_waiting_for_a_refused_commit_does_not_stall_the_next_checkpoint(
    make_flow, until
):
    # The sink writes nothing after a prepare until the commit (one Kafka transaction at a
    # time): a refused checkpoint must be committed before another barrier can reach it.
    flow = make_flow(
        {"src": ack_source(delay=0.001), "out": ("two_phase_sink", {"one_epoch": True})},
        ["src -> out"],
    )
    checkpoints = RecordingCheckpoints()
    checkpoints.fail = True
    run = FlowRun.of(flow, REGISTRY, store=checkpoints)
    await run.start()
    await until(lambda: (run.offsets().get("src") or 0) >= 3)
    with pytest.raises(OSError):
        await asyncio.wait_for(run.checkpoint(), 20)
    checkpoints.fail = False
    second = await asyncio.wait_for(run.checkpoint(), 20)
    assert [c.checkpoint_id for c in checkpoints.committed] == [1, second.checkpoint_id]
    assert (await asyncio.wait_for(run.stop(), 20)).state == "stopped"
    assert len(store().published) == run.offsets()["src"]


async def test_a_run_that_fails_before_the_checkpoint_completes_commits_nothing(make_flow, until):
    flow = make_flow(
        {
            "src": ack_source(delay=0.001),
            "slow": ("sleepy", {"delay_seconds": 0.05}),
            "out": ("two_phase_sink", {"on_error": "fail", "fail_write": True}),
        },
        ["src -> slow", "slow -> out"],
    )
    checkpoints = RecordingCheckpoints()
    run = FlowRun.of(flow, REGISTRY, store=checkpoints)
    await run.start()
    # The barrier goes out behind queued batches; the sink fails on the first of them.
    await until(lambda: run.metrics().edges["e1"].queued_batches >= 2)
    with pytest.raises(RuntimeError, match="before the checkpoint"):
        await asyncio.wait_for(run.checkpoint(), 20)
    assert (await run.wait()).state == "failed"
    assert checkpoints.committed == []
    assert store().names("prepare", "commit", "ack") == []


async def test_a_failing_commit_is_retried_by_the_next_checkpoint(make_flow, until):
    flow = make_flow(
        {"src": ack_source(delay=0.001), "out": ("two_phase_sink", {"fail_commit": True})},
        ["src -> out"],
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: (run.offsets().get("src") or 0) >= 3)
    await asyncio.wait_for(run.checkpoint(), 20)
    assert run.state == "running"
    assert run.metrics().nodes["out"].errors == 1
    outcome = await asyncio.wait_for(run.stop(), 20)
    # The last checkpoint has no successor to publish it: the run fails, naming the sink.
    assert outcome.state == "failed"
    assert outcome.error_node == "out"
    assert "commit checkpoint 2: the target is down" in (outcome.error or "")


async def test_a_sink_whose_input_ended_is_prepared_by_the_next_checkpoint(make_flow, until):
    flow = make_flow(
        {
            "short": ack_source(4),
            "long": ack_source(delay=0.001),
            "a": ("two_phase_sink", {"store": "a"}),
            "b": ("two_phase_sink", {"store": "b"}),
        },
        ["short -> a", "long -> b"],
    )
    run = FlowRun.of(flow, REGISTRY)
    await run.start()
    await until(lambda: run.metrics().nodes["a"].state == "finished")
    assert store("a").published == []
    checkpoint = await asyncio.wait_for(run.checkpoint(), 20)
    assert checkpoint.offsets["short"] == 4
    # No barrier reached `a` (its source had ended): the commit prepared it, then published.
    assert store("a").names("prepare", "commit") == [("prepare", 1, "a"), ("commit", 1, "a")]
    assert store("a").published == [{"i": i} for i in range(4)]
    await asyncio.wait_for(run.stop(), 20)


async def test_a_forced_stop_takes_no_last_checkpoint(make_flow, until):
    flow = make_flow({"src": ack_source(delay=0.001), "out": "two_phase_sink"}, ["src -> out"])
    checkpoints = RecordingCheckpoints()
    run = FlowRun.of(flow, REGISTRY, store=checkpoints)
    await run.start()
    await until(lambda: (run.offsets().get("src") or 0) >= 3)
    assert (await asyncio.wait_for(run.stop(force=True), 20)).forced
    assert checkpoints.committed == []
    assert store().names("prepare", "commit", "ack") == []
    assert store().names()[-2:] == [("source close", "src"), ("close", "out")]


def test_run_sink_drives_a_sink_through_a_runs_last_checkpoint():
    rows = [{"i": i} for i in range(5)]
    assert run_sink(TwoPhaseSink, {}, rows, batch_size=2) == {}
    assert store().names() == [
        ("recover", None, "two_phase_sink"),
        ("open", "two_phase_sink"),
        ("prepare", 1, "two_phase_sink"),
        ("commit", 1, "two_phase_sink"),
        ("close", "two_phase_sink"),
    ]
    assert store().published == rows
