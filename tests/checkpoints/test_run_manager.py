"""Checkpoints through the run manager: one CheckpointCommitted event per checkpoint, state
files on disk and their garbage collection, acknowledgements after the event, restarts after
a crash or a shutdown, and journals written before checkpoints carried state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from dataflow.events.flows import FlowStore
from dataflow.events.journal import EventData, Journal
from dataflow.events.open import open_journal
from dataflow.events.run_events import OffsetsReported, RunCreated, RunStarted
from dataflow.model import convert_flow
from dataflow.runtime.runs import RunManager
from dataflow.settings import Settings
from dataflow.testing import run_flow
from dataflow_processors.aggregate import Aggregate
from tests.checkpoints.support import REGISTRY, store
from tests.checkpoints.test_restore import EVENTS, WINDOWED


def flow_doc(
    sink: dict[str, Any], *, interval: float = 0.05, delay: float = 0.008, repeat: int = 1
) -> dict:
    """Windowed aggregate of EVENTS (read slowly; `repeat` 0: for ever) into a two-phase
    sink."""
    return {
        "id": "win",
        "name": "windows",
        "settings": {"checkpoint_interval_seconds": interval},
        "nodes": [
            {
                "id": "src",
                "type": "ack_source",
                "config": {
                    "rows": EVENTS,
                    "batch_size": 7,
                    "delay_seconds": delay,
                    "repeat": repeat,
                },
            },
            {"id": "agg", "type": "aggregate", "config": WINDOWED},
            {"id": "out", "type": "two_phase_sink", "config": sink},
        ],
        "edges": [
            {"id": "e1", "source": "src", "target": "agg"},
            {"id": "e2", "source": "agg", "target": "out"},
        ],
    }


async def expected_windows() -> list[dict[str, Any]]:
    doc = flow_doc({})
    doc["nodes"][0]["config"]["delay_seconds"] = 0
    doc["nodes"][2] = {"id": "out", "type": "list_sink"}
    result = await run_flow(doc, REGISTRY)
    return result.outputs["out"]


class Server:
    """What one server process holds: a run manager on a shared journal and data dir."""

    def __init__(self, journal: Journal, data_dir: Path, **settings: Any):
        self.settings = Settings(data_dir=str(data_dir), metrics_push_seconds=0.2, **settings)
        self.journal = journal
        self.flows = FlowStore(journal)
        self.runs = RunManager(journal, self.flows, REGISTRY, self.settings)

    async def events(self, flow_id: str = "win") -> list[tuple[str, dict[str, Any]]]:
        status = self.runs.status(flow_id)
        assert status is not None
        records = await self.journal.read(f"run-{status.run_id}")
        return [(r.type, msgspec.json.decode(r.data)) for r in records]

    def crash(self, flow_id: str = "win") -> asyncio.Future:
        """Stop the run as a SIGKILL would: nothing more reaches the journal."""
        run = self.runs._runs[flow_id]
        for task in run.tasks:
            task.cancel()
        assert run.engine is not None
        return asyncio.ensure_future(run.engine.stop(force=True))


@pytest.fixture
async def servers(tmp_path) -> AsyncIterator[Callable[..., Server]]:
    journal = open_journal(f"sqlite:///{tmp_path / 'journal.db'}")
    made: list[Server] = []

    def make(**settings: Any) -> Server:
        made.append(Server(journal, tmp_path / "data", **settings))
        return made[-1]

    yield make
    for server in made:
        await server.runs.shutdown()
    await journal.close()


async def committed(server: Server, at_least: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(20):
        while True:
            events = [e for t, e in await server.events() if t == "CheckpointCommitted"]
            if len(events) >= at_least:
                return events
            await asyncio.sleep(0.01)


async def test_each_checkpoint_is_one_event_naming_its_offsets_and_state_files(
    servers, tmp_path, until
):
    server = servers()
    await server.flows.create(convert_flow(flow_doc({}, repeat=0)))
    run_id = (await server.runs.start("win")).run_id
    events = await committed(server, 4)
    for number, event in enumerate(events[:4], 1):
        path = f"checkpoints/{run_id}/{number}/agg.state"
        assert event == {
            "type": "CheckpointCommitted",
            "checkpoint_id": number,
            "offsets": {"src": event["offsets"]["src"]},
            "state": {"agg": path},
        }
    status = server.runs.status("win")
    assert status is not None and status.checkpoint_id is not None
    latest = tmp_path / "data" / status.state_files["agg"]
    Aggregate(Aggregate.parse_config(WINDOWED)).restore_state(latest.read_bytes())

    # Only the state of the last two committed checkpoints stays on disk.
    run_dir = tmp_path / "data" / "checkpoints" / run_id

    def kept() -> bool:
        newest = server.runs.status("win").checkpoint_id  # type: ignore[union-attr]
        on_disk = {int(p.name) for p in run_dir.iterdir()}
        return on_disk == {newest - 1, newest}

    await server.runs.pause("win")
    await until(kept)
    assert (await server.runs.stop("win")).state == "stopped"
    assert not run_dir.exists()  # a run over for good keeps no state


async def test_the_server_can_override_every_flows_interval(servers):
    doc = convert_flow(flow_doc({}, interval=7))
    assert servers().runs._checkpoint_interval(doc) == 7
    assert servers(offsets_report_seconds=0.5).runs._checkpoint_interval(doc) == 0.5


async def test_sinks_publish_and_sources_acknowledge_after_the_event_is_journaled(servers):
    server = servers()
    calls = store().calls
    append = server.journal.append

    async def recording_append(stream: str, expected: int, events: list[EventData]) -> int:
        version = await append(stream, expected, events)
        calls.extend(("journal", e.type) for e in events)
        return version

    server.journal.append = recording_append  # type: ignore[method-assign]
    await server.flows.create(convert_flow(flow_doc({}, repeat=0)))
    await server.runs.start("win")
    await committed(server, 3)
    await server.runs.stop("win")
    journaled = acked = published = 0
    for call in list(calls):
        if call == ("journal", "CheckpointCommitted"):
            journaled += 1
        elif call[0] == "ack":
            acked += 1
        elif call[0] == "commit":
            published += 1
        assert acked <= journaled and published <= journaled
    assert acked == journaled and published == journaled >= 4  # three, then the stop's


async def test_a_restart_after_a_crash_resumes_from_the_last_checkpoint_without_duplicates(
    servers,
):
    expected = await expected_windows()
    first = servers()
    await first.flows.create(convert_flow(flow_doc({})))
    await first.runs.start("win")
    await committed(first, 2)
    await first.crash()
    state = store()
    assert len(state.published) < len(expected)

    second = servers()
    assert await second.runs.recover() == ["win"]
    recovered = [e for t, e in await second.events() if t == "RunRecovered"][-1]
    last = [e for t, e in await second.events() if t == "CheckpointCommitted"][-1]
    assert recovered["checkpoint_id"] == last["checkpoint_id"]
    assert recovered["offsets"] == last["offsets"]
    async with asyncio.timeout(20):
        while second.runs.state_of("win") != "completed":
            await asyncio.sleep(0.01)
    assert state.published == expected  # the aggregate's state came back with the offsets


async def test_a_shutdown_interrupts_and_the_restart_gives_the_same_windows(servers):
    expected = await expected_windows()
    first = servers()
    await first.flows.create(convert_flow(flow_doc({})))
    await first.runs.start("win")
    await committed(first, 1)
    await first.runs.shutdown()
    types = [t for t, _ in await first.events()]
    assert types[-2:] == ["CheckpointCommitted", "RunInterrupted"]
    assert first.runs.state_of("win") == "running"  # to be resumed
    engine = first.runs.engine("win")
    assert engine is not None and engine.metrics().nodes["agg"].state == "cancelled"
    published_before = list(store().published)
    assert published_before != expected

    second = servers()
    assert await second.runs.recover() == ["win"]
    async with asyncio.timeout(20):
        while second.runs.state_of("win") != "completed":
            await asyncio.sleep(0.01)
    assert store().published == expected


async def test_a_missing_state_file_fails_the_recovery_and_names_the_node(servers, tmp_path):
    first = servers()
    await first.flows.create(convert_flow(flow_doc({})))
    await first.runs.start("win")
    await committed(first, 1)
    await first.crash()
    for path in (tmp_path / "data" / "checkpoints").rglob("agg.state"):
        path.unlink()

    second = servers()
    assert await second.runs.recover() == []
    status = second.runs.status("win")
    assert status is not None and status.state == "failed"
    assert "cannot recover: state of node 'agg' is missing" in (status.error or "")


async def test_runs_journaled_with_offsets_reported_still_recover(servers):
    server = servers()
    doc = flow_doc({}, delay=0)
    await server.flows.create(convert_flow(doc))
    meta = {"flow_id": "win", "run_id": "run-old", "flow_version": 1}
    events = [
        RunCreated(run_id="run-old", flow_id="win", flow_version=1),
        RunStarted(),
        OffsetsReported(offsets={"src": 590}),
    ]
    await server.journal.append(
        "run-run-old",
        0,
        [
            EventData(type=type(e).__name__, data=msgspec.json.encode(e), metadata=meta)
            for e in events
        ],
    )
    assert await server.runs.recover() == ["win"]
    async with asyncio.timeout(20):
        while server.runs.state_of("win") != "completed":
            await asyncio.sleep(0.01)
    recovered = [e for t, e in await server.events() if t == "RunRecovered"]
    assert recovered == [{"type": "RunRecovered", "offsets": {"src": 590}, "checkpoint_id": None}]
    assert store().names("recover") == [("recover", None, "out")]
    status = server.runs.status("win")
    assert status is not None and status.offsets == {"src": len(EVENTS)}


async def test_state_left_by_runs_that_ended_is_removed_at_start(servers, tmp_path):
    leftover = tmp_path / "data" / "checkpoints" / "run-gone" / "3"
    leftover.mkdir(parents=True)
    (leftover / "agg.state").write_bytes(b"x")
    await servers().runs.recover()
    assert not leftover.parent.exists()


async def test_a_run_paused_when_the_server_went_down_is_recovered_paused(servers):
    expected = await expected_windows()
    first = servers()
    await first.flows.create(convert_flow(flow_doc({})))
    await first.runs.start("win")
    await committed(first, 1)
    await first.runs.pause("win")
    await first.crash()

    second = servers()
    assert await second.runs.recover() == ["win"]
    assert second.runs.state_of("win") == "paused"
    engine = second.runs.engine("win")
    assert engine is not None and engine.state == "paused"
    types = [t for t, _ in await second.events()]
    assert types[-2:] == ["RunRecovered", "RunPaused"]
    await second.runs.resume("win")
    async with asyncio.timeout(20):
        while second.runs.state_of("win") != "completed":
            await asyncio.sleep(0.01)
    assert store().published == expected
