"""RunStore: run streams folded into a status, invalid transitions refused, the projection
rebuilt from the journal (on every backend), history."""

from __future__ import annotations

import msgspec
import pytest

from dataflow.events.journal import ConcurrencyError
from dataflow.events.run_events import (
    CheckpointCommitted,
    MetricsReported,
    RunCompleted,
    RunFailed,
    RunInterrupted,
    RunPaused,
    RunRecovered,
    RunResumed,
    RunStarted,
    RunStopped,
)
from dataflow.events.runs import InvalidTransition, RunNotFound, RunStore


async def types_of(store: RunStore, run_id: str) -> list[str]:
    return [r.type for r in await store.journal.read(f"run-{run_id}")]


async def test_a_new_run_is_configured_and_becomes_the_flows_latest(journal):
    runs = RunStore(journal)
    assert runs.status("f") is None
    assert runs.state_of("f") == "configured"
    created = await runs.create("f", flow_version=3)
    assert (created.flow_id, created.flow_version, created.state) == ("f", 3, "configured")
    assert created.run_id.startswith("run-")
    assert runs.status("f") == created == runs.run(created.run_id)
    assert runs.run_ids("f") == [created.run_id]
    [recorded] = await journal.read(f"run-{created.run_id}")
    assert recorded.type == "RunCreated"
    assert recorded.metadata == {
        "flow_id": "f",
        "run_id": created.run_id,
        "flow_version": 3,
        "actor": "dataflow",
    }


async def test_events_fold_into_the_runs_status(journal):
    runs = RunStore(journal)
    run_id = (await runs.create("f", 1)).run_id
    status = await runs.append(run_id, RunStarted())
    assert status.state == "running" and status.started_at is not None
    status = await runs.append(
        run_id,
        CheckpointCommitted(checkpoint_id=1, offsets={"src": 7}, state={"agg": "a.state"}),
        MetricsReported(metrics={"records": 7}),
    )
    assert (status.state, status.checkpoint_id, status.offsets) == ("running", 1, {"src": 7})
    assert status.state_files == {"agg": "a.state"}
    assert (await runs.append(run_id, RunPaused())).state == "paused"
    assert (await runs.append(run_id, RunResumed())).state == "running"
    status = await runs.append(run_id, RunFailed(error="boom", node_id="src"))
    assert (status.state, status.error, status.error_node) == ("failed", "boom", "src")
    assert runs.status("f") == status
    assert await types_of(runs, run_id) == [
        "RunCreated",
        "RunStarted",
        "CheckpointCommitted",
        "MetricsReported",
        "RunPaused",
        "RunResumed",
        "RunFailed",
    ]


async def test_an_invalid_transition_is_refused_and_writes_nothing(journal):
    runs = RunStore(journal)
    run_id = (await runs.create("f", 1)).run_id
    with pytest.raises(InvalidTransition, match="cannot RunPaused flow 'f': its run is configured"):
        await runs.append(run_id, RunPaused())
    with pytest.raises(InvalidTransition, match="its run is configured") as refused:
        await runs.append(run_id, CheckpointCommitted(checkpoint_id=1, offsets={}))
    assert refused.value.state == "configured"
    await runs.append(run_id, RunStarted())
    # A batch is all or nothing: the valid first event is not written either.
    with pytest.raises(InvalidTransition, match="cannot RunResumed flow 'f': its run is stopped"):
        await runs.append(run_id, RunStopped(), RunResumed())
    assert runs.state_of("f") == "running"
    await runs.append(run_id, RunCompleted())
    for late in (RunStopped(), MetricsReported(metrics={}), RunInterrupted(reason="x")):
        with pytest.raises(InvalidTransition, match="its run is completed"):
            await runs.append(run_id, late)
    assert await types_of(runs, run_id) == ["RunCreated", "RunStarted", "RunCompleted"]


async def test_a_batch_is_checked_event_after_event(journal):
    runs = RunStore(journal)
    run_id = (await runs.create("f", 1)).run_id
    # Started then failed at once (a processor that cannot open).
    status = await runs.append(run_id, RunStarted(), RunFailed(error="cannot open"))
    assert status.state == "failed"


async def test_a_run_recovered_paused_runs_again_until_it_is_paused(journal):
    runs = RunStore(journal)
    run_id = (await runs.create("f", 1)).run_id
    await runs.append(run_id, RunStarted(), RunPaused(), RunInterrupted(reason="shutdown"))
    assert (runs.state_of("f"), runs.status("f").interrupted) == ("paused", True)
    recovered = RunRecovered(offsets={"src": 4}, checkpoint_id=None)
    status = await runs.append(run_id, recovered, RunPaused())
    assert (status.state, status.interrupted, status.offsets) == ("paused", False, {"src": 4})


async def test_a_flow_has_one_active_run_at_a_time(journal):
    runs = RunStore(journal)
    first = (await runs.create("f", 1)).run_id
    await runs.append(first, RunStarted())
    with pytest.raises(InvalidTransition, match="cannot start flow 'f': its run is running"):
        await runs.create("f", 1)
    await runs.append(first, RunStopped())
    second = (await runs.create("f", 2)).run_id
    assert runs.run_ids("f") == [first, second]
    assert runs.status("f").run_id == second
    with pytest.raises(RunNotFound, match=first):  # only the latest run moves on
        await runs.append(first, RunStarted())


async def test_load_rebuilds_the_projection_from_the_journal(store):
    writer = RunStore(store.open())
    old = (await writer.create("a", 1)).run_id
    await writer.append(old, RunStarted(), RunCompleted())
    latest = (await writer.create("a", 2)).run_id
    await writer.append(latest, RunStarted())
    await writer.append(latest, CheckpointCommitted(checkpoint_id=4, offsets={"src": 9}))
    other = (await writer.create("b", 5)).run_id
    await writer.append(other, RunStarted(), RunPaused())

    reader = RunStore(store.open())  # another server on the same journal
    await reader.load()
    assert reader.run_ids("a") == [old, latest]
    for flow_id in ("a", "b"):
        mine, theirs = writer.status(flow_id), reader.status(flow_id)
        assert theirs is not None and mine is not None
        # Times differ (the reader folds the recorded ones): compare the rest.
        assert msgspec.structs.replace(theirs, started_at=0, updated_at=0) == (
            msgspec.structs.replace(mine, started_at=0, updated_at=0)
        )
    assert (reader.state_of("a"), reader.status("a").checkpoint_id) == ("running", 4)
    assert [s.flow_id for s in reader.active()] == ["a", "b"]
    # The reader holds the stream versions: it appends where the writer left off.
    assert (await reader.append(latest, RunStopped())).state == "stopped"


async def test_load_catches_up_and_never_folds_an_event_twice(store):
    here, there = RunStore(store.open()), RunStore(store.open())
    run_id = (await here.create("f", 1)).run_id
    await here.append(run_id, RunStarted(), RunPaused())
    await here.load()  # its own events: already folded
    assert here.state_of("f") == "paused"
    await there.load()
    await there.append(run_id, RunResumed())
    # A writer that has not seen the other's event is fenced off.
    with pytest.raises(ConcurrencyError):
        await here.append(run_id, RunStopped())
    await here.load()
    assert here.state_of("f") == "running"
    assert (await here.append(run_id, RunStopped())).state == "stopped"
    assert await types_of(here, run_id) == [
        "RunCreated",
        "RunStarted",
        "RunPaused",
        "RunResumed",
        "RunStopped",
    ]


async def test_history_holds_every_event_of_every_run_of_the_flow(journal):
    runs = RunStore(journal)
    first = (await runs.create("f", 1)).run_id
    await runs.append(first, RunStarted(), RunStopped(forced=True))
    await runs.append((await runs.create("g", 1)).run_id, RunStarted())
    second = (await runs.create("f", 2)).run_id
    await runs.append(second, RunStarted())

    history = await runs.history("f")
    assert [(e.stream, e.stream_version, e.type, e.flow_version) for e in history] == [
        (f"run-{first}", 1, "RunCreated", 1),
        (f"run-{first}", 2, "RunStarted", 1),
        (f"run-{first}", 3, "RunStopped", 1),
        (f"run-{second}", 1, "RunCreated", 2),
        (f"run-{second}", 2, "RunStarted", 2),
    ]
    assert history[2].payload == {"type": "RunStopped", "forced": True}
    positions = [e.position for e in history]
    assert positions == sorted(positions)
    assert await runs.history("never-ran") == []
