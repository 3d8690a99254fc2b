"""Bounded edge queues (batch count and bytes thresholds) and a node's merged inbox."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TypeAlias

import pyarrow as pa

from dataflow.runtime.markers import Barrier, EndOfStream, Marker

Item: TypeAlias = pa.RecordBatch | Marker


class EdgeQueue:
    """The queue of one edge: `put` blocks while the batch count or byte threshold is reached.

    Markers (end of stream, barriers) take no room: they carry no data, and a stop or a
    checkpoint must never wait behind a full queue to be enqueued. They still travel in
    order with the batches.
    """

    def __init__(self, edge_id: str, max_batches: int, max_bytes: int):
        self.edge_id = edge_id
        self.max_batches = max_batches
        self.max_bytes = max_bytes
        self.batches = 0  # data batches queued now
        self.bytes = 0
        self.records_passed = 0  # entered the queue, over the run
        self.batches_passed = 0
        self.bytes_passed = 0
        self._items: deque[tuple[Item, int]] = deque()
        self._space = asyncio.Event()
        self._blocked_total = 0.0
        self._blocked_since: float | None = None
        #: Set on every put; the consumer's inbox shares one event between its queues.
        self.ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def _has_room(self, nbytes: int) -> bool:
        if self.batches >= self.max_batches:
            return False
        # A batch larger than max_bytes still enters an empty queue, else it never would.
        return self.bytes + nbytes <= self.max_bytes or self.batches == 0

    async def put(self, batch: pa.RecordBatch, nbytes: int | None = None) -> None:
        """Enqueue a data batch, waiting (back-pressured) while the queue is full."""
        if nbytes is None:
            nbytes = batch.nbytes
        if not self._has_room(nbytes):
            started = time.perf_counter()
            self._blocked_since = started
            try:
                while not self._has_room(nbytes):
                    self._space.clear()
                    await self._space.wait()
            finally:
                self._blocked_since = None
                self._blocked_total += time.perf_counter() - started
        self._items.append((batch, nbytes))
        self.batches += 1
        self.bytes += nbytes
        self.records_passed += batch.num_rows
        self.batches_passed += 1
        self.bytes_passed += nbytes
        self.ready.set()

    def put_marker(self, marker: Marker) -> None:
        self._items.append((marker, 0))
        self.ready.set()

    def get_nowait(self) -> tuple[Item, int] | None:
        """The oldest item and its size in bytes, or None when the queue is empty."""
        if not self._items:
            return None
        item, nbytes = self._items.popleft()
        if isinstance(item, pa.RecordBatch):
            self.batches -= 1
            self.bytes -= nbytes
            self._space.set()
        return item, nbytes

    async def get(self) -> tuple[Item, int]:
        while not self._items:
            self.ready.clear()
            await self.ready.wait()
        item = self.get_nowait()
        assert item is not None
        return item

    def peek_batches(self) -> list[pa.RecordBatch]:
        return [item for item, _ in self._items if isinstance(item, pa.RecordBatch)]

    @property
    def fill_ratio(self) -> float:
        """How full the queue is: the larger of its two threshold ratios (may exceed 1 for an
        oversized batch)."""
        return max(self.batches / self.max_batches, self.bytes / self.max_bytes)

    @property
    def backpressure_seconds(self) -> float:
        """Seconds producers spent waiting for room, including a wait still going on."""
        total = self._blocked_total
        if self._blocked_since is not None:
            total += time.perf_counter() - self._blocked_since
        return total

    @property
    def blocked(self) -> bool:
        return self._blocked_since is not None


class Inbox:
    """A node's input edges merged: items come in whatever order they arrive, round-robin
    between edges that have some waiting, so no input starves another.

    Barrier alignment: once a checkpoint barrier came on one input, that input is held back
    (nothing more is taken from it) until the barrier came on every input still open, as in
    Flink. The node then sees exactly the data before the barrier on every input when it
    snapshots its state, and none after. Markers take no room in a queue, so a held input
    cannot keep a barrier from reaching the others.
    """

    def __init__(self, inputs: list[tuple[str, EdgeQueue]], gate: asyncio.Event | None = None):
        #: (input port, queue) pairs.
        self._inputs = inputs
        self._next = 0
        self._ready = asyncio.Event()
        #: While cleared (the run is paused) nothing is taken off the queues.
        self._gate = gate
        self._open = set(range(len(inputs)))
        #: Inputs that delivered the barrier being aligned.
        self._held: set[int] = set()
        for _, queue in inputs:
            queue.ready = self._ready

    @property
    def held(self) -> frozenset[str]:
        """Edge ids held back at a barrier now."""
        return frozenset(self._inputs[i][1].edge_id for i in self._held)

    async def get(self) -> tuple[str, EdgeQueue, Item, int]:
        """(port, queue, item, nbytes) of the next item on any input not held back."""
        inputs = self._inputs
        count = len(inputs)
        while True:
            gate = self._gate
            if gate is not None and not gate.is_set():
                await gate.wait()
                continue
            for step in range(count):
                index = (self._next + step) % count
                if index in self._held:
                    continue
                port, queue = inputs[index]
                got = queue.get_nowait()
                if got is not None:
                    self._next = index + 1
                    item = got[0]
                    if isinstance(item, Barrier):
                        self._hold(index)
                    elif isinstance(item, EndOfStream):
                        self._ended(index)
                    return port, queue, item, got[1]
            self._ready.clear()
            await self._ready.wait()

    def _hold(self, index: int) -> None:
        if len(self._open) < 2:
            return
        self._held.add(index)
        if self._held >= self._open:  # the barrier came on every open input: aligned
            self._held.clear()

    def _ended(self, index: int) -> None:
        # An ended input sends no barrier: it no longer counts for the alignment.
        self._open.discard(index)
        self._held.discard(index)
        if self._held >= self._open:
            self._held.clear()
