"""Receive plain text lines POSTed to the DataFlow server: one record per line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pyarrow as pa

from dataflow.processor import (
    BackPressured,
    IngestClosed,
    InvalidRecords,
    ProcessorConfig,
    ProcessorSpec,
    Source,
    TooManyRecords,
    ui,
)


class LinePushConfig(ProcessorConfig, kw_only=True):
    """Lines POSTed to `/api/v1/ingest/{flow_id}/{node_id}` while the flow runs; each line of
    the text body is a record with one `line` column."""

    max_lines: Annotated[int, ui("Lines per request", "More get 413.", ge=1)] = 10_000
    max_pending: Annotated[
        int, ui("Pending requests", "Requests waiting for the flow; more get 429.", ge=1)
    ] = 8


class LinePush(Source[LinePushConfig]):
    """Implements the ingest protocol: `ingest` returns once the run has taken the batch."""

    spec = ProcessorSpec(
        name="line_push",
        category="source",
        status="beta",
        summary="Receive text lines POSTed to the DataFlow server.",
        outputs=("out",),
        examples=[{}, {"max_lines": 100}],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pending: asyncio.Queue[tuple[pa.RecordBatch, asyncio.Future[None]]] = asyncio.Queue()
        self.accepting = False

    async def open(self) -> None:
        self.accepting = True

    async def close(self) -> None:
        self.accepting = False
        while not self.pending.empty():  # never taken: those requests get 503, not 202
            self.pending.get_nowait()[1].set_exception(IngestClosed())

    async def ingest(self, body: bytes, content_type: str) -> int:
        if not self.accepting:
            raise IngestClosed()  # 503
        lines = body.decode("utf-8", "replace").splitlines()
        for i, line in enumerate(lines, 1):
            if not line.isprintable():
                raise InvalidRecords("a control character", line=i)  # 400, with the line
        if len(lines) > self.config.max_lines:
            raise TooManyRecords(f"{len(lines)} lines; at most {self.config.max_lines}")  # 413
        if self.pending.qsize() >= self.config.max_pending:
            raise BackPressured(retry_after_seconds=1)  # 429 with Retry-After: 1
        if not lines:
            return 0
        taken = asyncio.get_running_loop().create_future()
        await self.pending.put((pa.RecordBatch.from_pydict({"line": lines}), taken))
        await taken  # 202 only once the run owns the batch
        return len(lines)

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        while True:
            try:
                batch, taken = await asyncio.wait_for(self.pending.get(), 1.0)
            except TimeoutError:
                yield pa.RecordBatch.from_pylist([])  # idle: the engine may stop or pause now
                continue
            taken.set_result(None)
            yield batch
