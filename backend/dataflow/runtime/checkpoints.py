"""Checkpoint bookkeeping: which sources sent a barrier (at what offset), which terminal
nodes received it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


class PendingCheckpoint:
    def __init__(self, checkpoint_id: int, sources: Iterable[str], terminals: Iterable[str]):
        self.checkpoint_id = checkpoint_id
        self.waiting_sources = set(sources)
        self.waiting_terminals = set(terminals)
        self.offsets: dict[str, Any] = {}
        self.done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    @property
    def complete(self) -> bool:
        return not self.waiting_sources and not self.waiting_terminals


class CheckpointTracker:
    """A checkpoint completes when every source sent its barrier and every terminal node
    (one without outgoing edges) received it on all inputs, or finished."""

    def __init__(self, sources: Iterable[str], terminals: Iterable[str]):
        self._sources = frozenset(sources)
        self._terminals = frozenset(terminals)
        self._finished: set[str] = set()
        self._final_offsets: dict[str, Any] = {}
        self._pending: dict[int, PendingCheckpoint] = {}
        self._last_id = 0

    def next_id(self) -> int:
        return self._last_id + 1

    def begin(self, checkpoint_id: int) -> PendingCheckpoint:
        if checkpoint_id in self._pending:
            raise ValueError(f"checkpoint {checkpoint_id} is already in progress")
        self._last_id = max(self._last_id, checkpoint_id)
        pending = PendingCheckpoint(
            checkpoint_id, self._sources - self._finished, self._terminals - self._finished
        )
        pending.offsets.update(self._final_offsets)
        self._pending[checkpoint_id] = pending
        return pending

    def source_sent(self, checkpoint_id: int, node_id: str, offset: Any) -> None:
        pending = self._pending.get(checkpoint_id)
        if pending is not None:
            pending.offsets[node_id] = offset
            pending.waiting_sources.discard(node_id)

    def terminal_reached(self, checkpoint_id: int, node_id: str) -> None:
        pending = self._pending.get(checkpoint_id)
        if pending is not None:
            pending.waiting_terminals.discard(node_id)

    def node_finished(self, node_id: str, offset: Any = None) -> None:
        """A finished node passed everything: it counts as having sent/received every
        pending barrier."""
        self._finished.add(node_id)
        if node_id in self._sources:
            self._final_offsets[node_id] = offset
        for pending in self._pending.values():
            if node_id in pending.waiting_sources:
                pending.offsets[node_id] = offset
            pending.waiting_sources.discard(node_id)
            pending.waiting_terminals.discard(node_id)

    def pop_complete(self) -> list[PendingCheckpoint]:
        done = [p for p in self._pending.values() if p.complete]
        for pending in done:
            del self._pending[pending.checkpoint_id]
        return sorted(done, key=lambda p: p.checkpoint_id)

    def abort(self, reason: str) -> None:
        for pending in self._pending.values():
            if not pending.done.done():
                pending.done.set_exception(RuntimeError(reason))
        self._pending.clear()
