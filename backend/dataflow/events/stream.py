"""A small aggregate on one journal stream (users and tokens, server settings): it folds the
stream's events, and appends what a decision makes of the current state, deciding again when
another writer (another server on the same journal) appended first."""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable, Sequence

import msgspec

from dataflow.events.actor import with_actor
from dataflow.events.journal import ConcurrencyError, EventData, Journal

#: Decisions retried after lost races before the ConcurrencyError goes to the caller.
MAX_ATTEMPTS = 5


class StreamAggregate(abc.ABC):
    def __init__(self, journal: Journal, stream: str, *, refresh_seconds: float = 5.0):
        self.journal = journal
        self.stream = stream
        self.refresh_seconds = refresh_seconds
        self.version = 0
        self._lock = asyncio.Lock()
        self._refreshed: float | None = None

    @abc.abstractmethod
    def decode(self, data: bytes) -> msgspec.Struct:
        """One stored event."""

    @abc.abstractmethod
    def apply(self, event: msgspec.Struct, at: float) -> None:
        """Fold one event (recorded at unix time `at`) into the state."""

    async def load(self) -> None:
        """Fold the events appended since the last call (the whole stream the first time)."""
        for rec in await self.journal.read(self.stream, self.version + 1):
            self.apply(self.decode(rec.data), rec.recorded_at)
            self.version = rec.version
        self._refreshed = time.monotonic()

    def stale(self) -> bool:
        last = self._refreshed
        return last is None or time.monotonic() - last >= self.refresh_seconds

    async def refresh(self) -> None:
        """Read what other servers appended, at most every `refresh_seconds`."""
        if self.stale():
            async with self._lock:
                await self.load()

    async def decide(self, build: Callable[[], Sequence[msgspec.Struct]]) -> None:
        """Append the events `build` decides from the up-to-date state (none: nothing to
        do); a write racing another server's reads the stream again and decides again."""
        async with self._lock:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                await self.load()
                events = build()
                if not events:
                    return
                data = [
                    EventData(
                        type=type(e).__name__, data=msgspec.json.encode(e), metadata=with_actor({})
                    )
                    for e in events
                ]
                try:
                    await self.journal.append(self.stream, self.version, data)
                except ConcurrencyError:
                    if attempt == MAX_ATTEMPTS:
                        raise
                    continue
                await self.load()
                return
