"""Run metrics: cheap per-batch counters while running, msgspec snapshots for the API."""

from __future__ import annotations

import time
from collections import deque

import msgspec

from dataflow.runtime.queues import EdgeQueue


class NodeMetrics(msgspec.Struct, kw_only=True):
    """What one node did so far; `records_*_per_second` cover the last few seconds."""

    type: str
    #: pending (not started), running, finished, failed or cancelled.
    state: str
    records_in: dict[str, int]
    records_out: dict[str, int]
    batches_in: int
    batches_out: int
    bytes_in: int
    bytes_out: int
    #: Failed processor calls (every attempt of a retried batch counts).
    errors: int
    retries: int
    #: Records emitted on an output port that has no edge.
    discarded_records: int
    #: Seconds spent inside processor calls (open, process/write, finish/flush, close).
    busy_seconds: float
    records_in_per_second: float
    records_out_per_second: float
    last_error: str | None = None


class EdgeMetrics(msgspec.Struct, kw_only=True):
    """One edge's queue: what is in it now and what went through it."""

    queued_batches: int
    queued_bytes: int
    #: The larger of queued/max_batches and queued/max_bytes.
    fill_ratio: float
    #: Seconds the producer spent waiting for room in this queue.
    backpressure_seconds: float
    records: int
    batches: int
    bytes: int
    max_batches: int
    max_bytes: int


class FlowMetrics(msgspec.Struct, kw_only=True):
    run_id: str | None
    flow_id: str
    state: str
    #: Seconds since the run started (frozen once it ended).
    elapsed: float
    nodes: dict[str, NodeMetrics]
    edges: dict[str, EdgeMetrics]


class Rate:
    """Events per second over a sliding window of one-second buckets."""

    def __init__(self, window_seconds: int = 5):
        self._window = window_seconds
        self._buckets: deque[list[int]] = deque()  # [second, count]
        self._started = time.monotonic()

    def add(self, count: int, now: float) -> None:
        second = int(now)
        buckets = self._buckets
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += count
            return
        buckets.append([second, count])
        # Keep the current second plus `window` whole ones: per_second reads the whole ones.
        while buckets[0][0] < second - self._window:
            buckets.popleft()

    def per_second(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        # Whole seconds only: the current, partial one would make the figure jump.
        last_full = int(now) - 1
        first = last_full - self._window + 1
        total = sum(c for s, c in self._buckets if first <= s <= last_full)
        # The time those buckets cover: the window, or less when the run is younger.
        span = min(float(self._window), (last_full + 1) - self._started)
        return total / span if span >= 1.0 else 0.0


class NodeCounters:
    """The mutable counters behind NodeMetrics; updated once per batch, never per row."""

    __slots__ = (
        "batches_in",
        "batches_out",
        "busy_seconds",
        "bytes_in",
        "bytes_out",
        "discarded_records",
        "errors",
        "last_error",
        "rate_in",
        "rate_out",
        "records_in",
        "records_out",
        "retries",
        "state",
        "type",
    )

    def __init__(self, type_name: str, inputs: tuple[str, ...], outputs: tuple[str, ...]):
        self.type = type_name
        self.state = "pending"
        self.records_in = dict.fromkeys(inputs, 0)
        self.records_out = dict.fromkeys(outputs, 0)
        self.batches_in = self.batches_out = self.bytes_in = self.bytes_out = 0
        self.errors = self.retries = self.discarded_records = 0
        self.busy_seconds = 0.0
        self.last_error: str | None = None
        self.rate_in = Rate()
        self.rate_out = Rate()

    def received(self, port: str, rows: int, nbytes: int) -> None:
        self.records_in[port] = self.records_in.get(port, 0) + rows
        self.batches_in += 1
        self.bytes_in += nbytes
        self.rate_in.add(rows, time.monotonic())

    def emitted(self, port: str, rows: int, nbytes: int) -> None:
        self.records_out[port] = self.records_out.get(port, 0) + rows
        self.batches_out += 1
        self.bytes_out += nbytes
        self.rate_out.add(rows, time.monotonic())

    def failed(self, error: str) -> None:
        self.errors += 1
        self.last_error = error

    def snapshot(self, now: float) -> NodeMetrics:
        return NodeMetrics(
            type=self.type,
            state=self.state,
            records_in=dict(self.records_in),
            records_out=dict(self.records_out),
            batches_in=self.batches_in,
            batches_out=self.batches_out,
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            errors=self.errors,
            retries=self.retries,
            discarded_records=self.discarded_records,
            busy_seconds=self.busy_seconds,
            records_in_per_second=self.rate_in.per_second(now),
            records_out_per_second=self.rate_out.per_second(now),
            last_error=self.last_error,
        )


def edge_metrics(queue: EdgeQueue) -> EdgeMetrics:
    return EdgeMetrics(
        queued_batches=queue.batches,
        queued_bytes=queue.bytes,
        fill_ratio=queue.fill_ratio,
        backpressure_seconds=queue.backpressure_seconds,
        records=queue.records_passed,
        batches=queue.batches_passed,
        bytes=queue.bytes_passed,
        max_batches=queue.max_batches,
        max_bytes=queue.max_bytes,
    )
