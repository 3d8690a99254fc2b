"""RunStore: the run aggregate's streams `run-<id>`, the status projection over them (the
latest run of each flow) and their history."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import msgspec

from dataflow.events.actor import SYSTEM, with_actor
from dataflow.events.flows import HistoryEntry
from dataflow.events.journal import EventData, Journal, RecordedEvent
from dataflow.events.run_events import (
    ACTIVE_STATES,
    RunCreated,
    RunEvent,
    RunState,
    RunStatus,
    allowed,
    apply,
    decode_run_event,
)
from dataflow.model import new_id

RUN_STREAM_PREFIX = "run-"


class InvalidTransition(Exception):
    """The run's state does not allow the action (an event or a request such as `pause`)."""

    def __init__(self, action: str, state: str, flow_id: str):
        super().__init__(f"cannot {action} flow {flow_id!r}: its run is {state}")
        self.action = action
        self.state = state
        self.flow_id = flow_id


class RunNotFound(LookupError):
    """The store does not follow this run: unknown, or no longer the latest of its flow."""

    def __init__(self, run_id: str):
        super().__init__(f"run {run_id!r} is not the latest run of any flow")
        self.run_id = run_id


def stream_name(run_id: str) -> str:
    return f"{RUN_STREAM_PREFIX}{run_id}"


@dataclass
class _Stream:
    """The latest run of a flow: its folded status and the stream version it is at."""

    status: RunStatus
    version: int
    #: Appends to one stream are serialised: lifecycle, checkpoints and metrics race.
    writing: asyncio.Lock = field(default_factory=asyncio.Lock)


class RunStore:
    """Create runs, append their events (the fold rejects invalid transitions), and read the
    status projection: the latest run of each flow and every run id of each flow.

    Every event carries `flow_id`, `run_id` and `flow_version` in its metadata. Appends use
    the stream version the store holds, so a writer elsewhere that got in first makes the
    append raise ConcurrencyError (what fences a run that another node took).
    """

    def __init__(self, journal: Journal):
        self.journal = journal
        self._latest: dict[str, _Stream] = {}  # flow id -> its latest run
        self._by_run: dict[str, _Stream] = {}  # run id -> the same, for latest runs only
        self._run_ids: dict[str, list[str]] = {}  # flow id -> all its run ids, oldest first
        self._known: set[str] = set()  # every run id seen
        self._position = 0

    # -- read side ---------------------------------------------------------------------
    async def load(self) -> None:
        """Catch up with the journal: fold the run events after the last position read, in
        the journal's global order (so a flow's latest run is its last created). Events this
        store appended itself are not folded twice."""
        while batch := await self.journal.read_all(self._position + 1, 1000):
            for recorded in batch:
                self._position = recorded.position
                if recorded.stream.startswith(RUN_STREAM_PREFIX):
                    self._fold(recorded)

    def _fold(self, recorded: RecordedEvent) -> None:
        event = decode_run_event(recorded.data)
        if isinstance(event, RunCreated):
            self._track(apply(None, event, recorded.recorded_at), recorded.version)
            return
        stream = self._by_run.get(recorded.stream.removeprefix(RUN_STREAM_PREFIX))
        if stream is not None and recorded.version > stream.version:
            stream.status = apply(stream.status, event, recorded.recorded_at)
            stream.version = recorded.version

    def _track(self, status: RunStatus, version: int) -> None:
        if status.run_id in self._known:  # created here, or folded by a load already
            return
        previous = self._latest.get(status.flow_id)
        if previous is not None:
            del self._by_run[previous.status.run_id]
        stream = _Stream(status, version)
        self._latest[status.flow_id] = self._by_run[status.run_id] = stream
        self._run_ids.setdefault(status.flow_id, []).append(status.run_id)
        self._known.add(status.run_id)

    def status(self, flow_id: str) -> RunStatus | None:
        """The flow's latest run (None: it never ran)."""
        stream = self._latest.get(flow_id)
        return stream.status if stream else None

    def run(self, run_id: str) -> RunStatus:
        """The status of a run that is the latest of its flow; RunNotFound otherwise."""
        stream = self._by_run.get(run_id)
        if stream is None:
            raise RunNotFound(run_id)
        return stream.status

    def state_of(self, flow_id: str) -> RunState:
        stream = self._latest.get(flow_id)
        return stream.status.state if stream else "configured"

    def is_active(self, flow_id: str) -> bool:
        return self.state_of(flow_id) in ACTIVE_STATES

    def active(self) -> list[RunStatus]:
        """The latest runs that are running or paused (to recover after a restart)."""
        return [s.status for s in self._latest.values() if s.status.state in ACTIVE_STATES]

    def run_ids(self, flow_id: str) -> list[str]:
        return list(self._run_ids.get(flow_id, []))

    async def history(self, flow_id: str) -> list[HistoryEntry]:
        """Every event of every run of the flow, run by run (oldest first)."""
        entries = []
        for run_id in self._run_ids.get(flow_id, []):
            for recorded in await self.journal.read(stream_name(run_id)):
                entries.append(
                    HistoryEntry(
                        actor=recorded.metadata.get("actor", SYSTEM),
                        flow_version=recorded.metadata.get("flow_version", 0),
                        stream_version=recorded.version,
                        position=recorded.position,
                        recorded_at=recorded.recorded_at,
                        type=recorded.type,
                        payload=msgspec.json.decode(recorded.data),
                        metadata=recorded.metadata,
                        stream=recorded.stream,
                    )
                )
        return entries

    # -- write side --------------------------------------------------------------------
    async def create(self, flow_id: str, flow_version: int) -> RunStatus:
        """A new run of the flow's version `flow_version`, in state `configured`; it becomes
        the flow's latest run. InvalidTransition while the latest run is still active."""
        if self.is_active(flow_id):
            raise InvalidTransition("start", self.state_of(flow_id), flow_id)
        run_id = new_id("run-")
        event = RunCreated(run_id=run_id, flow_id=flow_id, flow_version=flow_version)
        status = apply(None, event, time.time())
        version = await self.journal.append(stream_name(run_id), 0, [_encode(status, event)])
        self._track(status, version)
        return self.run(run_id)

    async def append(self, run_id: str, *events: RunEvent) -> RunStatus:
        """Append events to the run's stream, all or none, and return its new status. The
        fold checks each transition first: InvalidTransition names the first it refuses."""
        stream = self._by_run.get(run_id)
        if stream is None:
            raise RunNotFound(run_id)
        async with stream.writing:
            now = time.time()
            status = stream.status
            for event in events:
                if isinstance(event, RunCreated) or not allowed(status, event):
                    raise InvalidTransition(type(event).__name__, status.state, status.flow_id)
                status = apply(status, event, now)
            data = [_encode(stream.status, event) for event in events]
            version = await self.journal.append(stream_name(run_id), stream.version, data)
            stream.status, stream.version = status, version
        return status


def _encode(status: RunStatus, event: RunEvent) -> EventData:
    metadata = {
        "flow_id": status.flow_id,
        "run_id": status.run_id,
        "flow_version": status.flow_version,
    }
    return EventData(
        type=type(event).__name__, data=msgspec.json.encode(event), metadata=with_actor(metadata)
    )
