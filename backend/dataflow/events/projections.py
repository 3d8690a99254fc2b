"""Read models fed from the journal's global order: a Projection base and the flow list."""

from __future__ import annotations

import abc
import asyncio

import msgspec

from dataflow.events.flow_events import (
    EdgeAdded,
    EdgeRemoved,
    FlowCreated,
    FlowDeleted,
    FlowDescribed,
    FlowRenamed,
    NodeAdded,
    NodeRemoved,
    decode_event,
)
from dataflow.events.flows import STREAM_PREFIX
from dataflow.events.journal import Journal, RecordedEvent


class Projection(abc.ABC):
    """A read model that tracks the last journal position it handled.

    Subclasses set `name` and `stream_prefix` (only streams starting with it are handed to
    `handle`) and implement `handle` and `reset`. `catch_up` is safe to call from several
    tasks: one catches up, the others wait and find nothing left to do.
    """

    name: str = "projection"
    stream_prefix: str = ""

    def __init__(self, journal: Journal, batch_size: int = 500):
        self.journal = journal
        self.batch_size = batch_size
        self.position = 0  # last journal position handled (0: none)
        self._lock = asyncio.Lock()

    @abc.abstractmethod
    async def handle(self, event: RecordedEvent) -> None:
        """Apply one event of a matching stream to the read model."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget everything, as before the first event."""

    async def catch_up(self) -> int:
        """Handle the events appended since the last call; returns how many were handled."""
        handled = 0
        async with self._lock:
            while batch := await self.journal.read_all(self.position + 1, self.batch_size):
                for event in batch:
                    if event.stream.startswith(self.stream_prefix):
                        await self.handle(event)
                        handled += 1
                    self.position = event.position
                if len(batch) < self.batch_size:
                    break
        return handled

    async def rebuild(self) -> int:
        async with self._lock:
            self.reset()
            self.position = 0
        return await self.catch_up()


class FlowSummary(msgspec.Struct, kw_only=True):
    """One row of the flow list; times are unix seconds."""

    id: str
    name: str
    description: str
    version: int
    node_count: int
    edge_count: int
    created_at: float
    updated_at: float


class FlowListProjection(Projection):
    """The flows that are not deleted, with counts: what the flow list page shows.

    Counts follow the events (no document replay), so catching up costs one decode per event.
    """

    name = "flow_list"
    stream_prefix = STREAM_PREFIX

    def __init__(self, journal: Journal, batch_size: int = 500):
        super().__init__(journal, batch_size)
        self._flows: dict[str, FlowSummary] = {}

    def reset(self) -> None:
        self._flows.clear()

    def list(self) -> list[FlowSummary]:
        return sorted(self._flows.values(), key=lambda f: (f.name.casefold(), f.id))

    def get(self, flow_id: str) -> FlowSummary | None:
        return self._flows.get(flow_id)

    async def handle(self, event: RecordedEvent) -> None:
        flow_id = event.stream.removeprefix(STREAM_PREFIX)
        change = decode_event(event)
        if isinstance(change, FlowCreated):
            flow = change.flow
            self._flows[flow_id] = FlowSummary(
                id=flow_id,
                name=flow.name,
                description=flow.description,
                version=event.metadata["flow_version"],
                node_count=len(flow.nodes),
                edge_count=len(flow.edges),
                created_at=event.recorded_at,
                updated_at=event.recorded_at,
            )
            return
        summary = self._flows.get(flow_id)
        if summary is None:
            return  # a deleted flow's audit events, or a stream we started reading mid-way
        summary.version = event.metadata["flow_version"]
        summary.updated_at = event.recorded_at
        match change:
            case NodeAdded():
                summary.node_count += 1
            case NodeRemoved():
                summary.node_count -= 1
            case EdgeAdded():
                summary.edge_count += 1
            case EdgeRemoved():
                summary.edge_count -= 1
            case FlowRenamed(name=name):
                summary.name = name
            case FlowDescribed(description=description):
                summary.description = description
            case FlowDeleted():
                del self._flows[flow_id]
