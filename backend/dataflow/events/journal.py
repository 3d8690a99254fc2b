"""The journal interface: append-only event streams with optimistic concurrency.

Kept small so that SQLite, PostgreSQL and (later) Cassandra can all implement it:
every operation names one stream (a Cassandra partition) except `read_all`, and the
version check of `append` is a compare-and-set (a Cassandra lightweight transaction).
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Sequence
from typing import Any

import msgspec


class EventData(msgspec.Struct, frozen=True, kw_only=True):
    """An event to append: its type name, JSON payload and metadata."""

    type: str
    data: bytes
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class RecordedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event as stored: `version` is its 1-based place in its stream, `position` its
    1-based place in the journal's global order (gapless, increasing in commit order)."""

    stream: str
    version: int
    position: int
    type: str
    data: bytes
    metadata: dict[str, Any]
    recorded_at: float  # unix seconds


def event_from_row(row: tuple[Any, ...]) -> RecordedEvent:
    """A stored row (stream, version, position, type, data, metadata JSON, recorded_at)."""
    stream, version, position, type_, data, metadata, recorded_at = row
    return RecordedEvent(
        stream=stream,
        version=version,
        position=position,
        type=type_,
        data=bytes(data),
        metadata=msgspec.json.decode(metadata),
        recorded_at=recorded_at,
    )


def metadata_json(value: dict[str, Any]) -> str:
    return msgspec.json.encode(value).decode()


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    stream: str
    version: int
    data: bytes
    recorded_at: float


class ConcurrencyError(Exception):
    """The stream moved on since the caller read it: `expected` != `actual` version."""

    def __init__(self, stream: str, expected: int, actual: int):
        super().__init__(f"stream {stream!r} is at version {actual}, expected {expected}")
        self.stream = stream
        self.expected = expected
        self.actual = actual


class Journal(abc.ABC):
    """Append-only event streams. All backends pass tests/events/test_journal_contract.py."""

    name: str = "journal"

    @abc.abstractmethod
    async def append(self, stream: str, expected_version: int, events: Sequence[EventData]) -> int:
        """Atomically append `events` if the stream is at `expected_version` (0: new stream).

        Returns the stream's new version; raises ConcurrencyError otherwise (nothing written).
        """

    @abc.abstractmethod
    async def read(
        self, stream: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        """Events of one stream with from_version <= version <= to_version, in order."""

    @abc.abstractmethod
    async def read_all(self, from_position: int = 1, limit: int = 1000) -> list[RecordedEvent]:
        """Events of every stream with position >= from_position, in global order."""

    @abc.abstractmethod
    async def stream_version(self, stream: str) -> int:
        """Current version of a stream (0 when it does not exist)."""

    @abc.abstractmethod
    async def save_snapshot(self, stream: str, version: int, data: bytes) -> None:
        """Store a snapshot of the stream's state as of `version` (replaces one at the same
        version)."""

    @abc.abstractmethod
    async def load_snapshot(self, stream: str, max_version: int | None = None) -> Snapshot | None:
        """The newest snapshot with version <= max_version (any version when None)."""

    async def ping(self) -> bool:
        """Whether the backend answers (health checks)."""
        await self.stream_version("$health")
        return True

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class MemoryJournal(Journal):
    """A journal in a dict: for unit tests and throwaway runs (`memory://`)."""

    name = "memory"

    def __init__(self) -> None:
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._all: list[RecordedEvent] = []
        self._snapshots: dict[str, list[Snapshot]] = {}
        self._lock = asyncio.Lock()

    async def append(self, stream: str, expected_version: int, events: Sequence[EventData]) -> int:
        async with self._lock:
            current = self._streams.setdefault(stream, [])
            if len(current) != expected_version:
                raise ConcurrencyError(stream, expected_version, len(current))
            now = time.time()
            # Built in full before storing, so a bad event leaves the journal untouched;
            # metadata goes through JSON as in the stored backends (and is a deep copy).
            recorded = [
                RecordedEvent(
                    stream=stream,
                    version=expected_version + i,
                    position=len(self._all) + i,
                    type=event.type,
                    data=event.data,
                    metadata=msgspec.json.decode(msgspec.json.encode(event.metadata)),
                    recorded_at=now,
                )
                for i, event in enumerate(events, start=1)
            ]
            current.extend(recorded)
            self._all.extend(recorded)
            return len(current)

    async def read(
        self, stream: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        events = self._streams.get(stream, [])
        last = len(events) if to_version is None else to_version
        return [e for e in events if from_version <= e.version <= last]

    async def read_all(self, from_position: int = 1, limit: int = 1000) -> list[RecordedEvent]:
        start = max(from_position, 1) - 1
        return self._all[start : start + max(limit, 0)]

    async def stream_version(self, stream: str) -> int:
        return len(self._streams.get(stream, []))

    async def save_snapshot(self, stream: str, version: int, data: bytes) -> None:
        snaps = [s for s in self._snapshots.get(stream, []) if s.version != version]
        snaps.append(Snapshot(stream=stream, version=version, data=data, recorded_at=time.time()))
        self._snapshots[stream] = sorted(snaps, key=lambda s: s.version)

    async def load_snapshot(self, stream: str, max_version: int | None = None) -> Snapshot | None:
        snaps = [
            s
            for s in self._snapshots.get(stream, [])
            if max_version is None or s.version <= max_version
        ]
        return snaps[-1] if snaps else None
