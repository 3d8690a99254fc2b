"""Receive records POSTed to the DataFlow server's ingest endpoint, with backpressure."""

from __future__ import annotations

import asyncio
import base64
import hmac
from collections import deque
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
from dataflow_processors._http import EMPTY, IDLE_SECONDS, JsonError, decode_records, is_ndjson


class HttpListenConfig(ProcessorConfig, kw_only=True):
    """Records POSTed to `/api/v1/ingest/{flow_id}/{node_id}` on the DataFlow server while the
    flow runs. A JSON object is one record, a JSON array of objects several, NDJSON (content
    type `application/x-ndjson`, or one object per line) one record per line; the fields
    become columns. Each request becomes one batch.

    The answer is 202 `{"accepted": n}` once the run has taken the batch from the node: a
    graceful stop or a server shutdown still delivers it, a forced stop or a failed run loses
    what its queues held. When the flow is back-pressured the answer is 429 with
    `Retry-After`, and nothing of that request was taken: send it again. 503 while the flow
    is not running or paused, 400 for a body that is not JSON records (with the line), 413
    above `max_records_per_request`. There is no offset: after a restart nothing is replayed,
    the senders still hold whatever was not accepted.
    """

    max_pending_batches: Annotated[
        int,
        ui(
            "Pending requests",
            "Requests waiting for the flow to take their batch; when this many wait, new ones"
            " get 429 at once.",
            ge=1,
            le=10_000,
        ),
    ] = 8
    max_records_per_request: Annotated[
        int, ui("Records per request", "More records in one request get 413.", ge=1)
    ] = 100_000
    auth_token: Annotated[
        str | None,
        ui(
            "Ingest token",
            "Producers send `Authorization: Bearer <token>` with this secret's value. Without"
            " a token or basic-auth pair, only a signed-in user with the operator role may post.",
            secret=True,
        ),
    ] = None
    basic_username: Annotated[
        str | None,
        ui("Basic-auth user", "With basic_password: producers use HTTP basic authentication."),
    ] = None
    basic_password: Annotated[
        str | None, ui("Basic-auth password", "With basic_username.", secret=True)
    ] = None
    accept_timeout_seconds: Annotated[
        float,
        ui(
            "Accept timeout (s)",
            "Longest wait of a request for the flow to take its batch; then it gets 429.",
            advanced=True,
            gt=0,
        ),
    ] = 30.0

    def __post_init__(self) -> None:
        if (self.basic_username is None) != (self.basic_password is None):
            raise ValueError("basic_username and basic_password go together")
        if self.auth_token is not None and self.basic_username is not None:
            raise ValueError("set either auth_token or basic_username/basic_password, not both")


class _Entry:
    """A request's batch waiting in the queue, and the future its request waits on."""

    __slots__ = ("batch", "taken")

    def __init__(self, batch: pa.RecordBatch, taken: asyncio.Future[None]):
        self.batch, self.taken = batch, taken


class HttpListen(Source[HttpListenConfig]):
    """Implements the ingest protocol (dataflow.processor.ingest): the endpoint finds the
    node in the flow's run and calls `ingest`."""

    spec = ProcessorSpec(
        name="http_listen",
        category="source",
        status="beta",
        icon="http",
        title="HTTP listen",
        summary="Receive records POSTed to the DataFlow server; a full flow answers 429.",
        outputs=("out",),
        examples=[{}, {"max_pending_batches": 32, "max_records_per_request": 10_000}],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._pending: deque[_Entry] = deque()
        self._ready = asyncio.Event()
        self._open = False

    @property
    def pending(self) -> int:
        """Requests waiting for the run to take their batch."""
        return len(self._pending)

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False
        while self._pending:  # never taken: their requests answer 503, not 202
            self._pending.popleft().taken.set_exception(IngestClosed())

    def check_credentials(self, authorization: str | None) -> bool | None:
        """The node's own credential (the ingest protocol's IngestAuth)."""
        cfg = self.config
        if cfg.auth_token is not None:
            expected = f"Bearer {cfg.auth_token}"
        elif cfg.basic_username is not None and cfg.basic_password is not None:
            pair = f"{cfg.basic_username}:{cfg.basic_password}".encode()
            expected = "Basic " + base64.b64encode(pair).decode()
        else:
            return None
        return hmac.compare_digest((authorization or "").encode(), expected.encode())

    async def ingest(self, body: bytes, content_type: str = "") -> int:
        """One request's records: decoded in a worker thread, then offered to the run."""
        if not self._open:
            raise IngestClosed()
        batch = await asyncio.to_thread(self.decode, body, content_type)
        if not batch.num_rows:
            return 0
        if not await self.offer(batch):
            raise BackPressured()
        return batch.num_rows

    def decode(self, body: bytes, content_type: str = "") -> pa.RecordBatch:
        """A request body as one batch (call it in a worker thread). Raises InvalidRecords
        for a body that is not JSON records and TooManyRecords above the limit."""
        try:
            table = decode_records(body, is_ndjson(content_type))
        except JsonError as exc:
            raise InvalidRecords(exc.message, exc.line) from exc
        limit = self.config.max_records_per_request
        if table.num_rows > limit:
            raise TooManyRecords(f"{table.num_rows} records in one request; at most {limit}")
        batches = table.combine_chunks().to_batches()
        return batches[0] if batches else EMPTY

    async def offer(self, batch: pa.RecordBatch) -> bool:
        """Queue a batch and wait until the run takes it: True. False when back-pressured:
        max_pending_batches batches wait already, or this one waited accept_timeout_seconds
        and was withdrawn. Raises IngestClosed when the run ends before it takes it."""
        if not self._open:
            raise IngestClosed()
        if len(self._pending) >= self.config.max_pending_batches:
            return False
        entry = _Entry(batch, asyncio.get_running_loop().create_future())
        self._pending.append(entry)
        self._ready.set()
        try:
            await asyncio.wait({entry.taken}, timeout=self.config.accept_timeout_seconds)
        finally:
            # Timed out, or the request itself was cancelled: the batch must not go on.
            if not entry.taken.done():
                self._pending.remove(entry)
                entry.taken.cancel()
        if entry.taken.cancelled():
            return False
        entry.taken.result()  # raises IngestClosed
        return True

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        while True:
            if not self._pending:
                self._ready.clear()
                try:
                    async with asyncio.timeout(IDLE_SECONDS):
                        await self._ready.wait()
                except TimeoutError:
                    yield EMPTY  # no request: the engine may pause, stop or checkpoint now
                continue
            # Taking and answering happen in one step with the yield: the engine owns the
            # batch from here on, and a stop cannot come in between.
            entry = self._pending.popleft()
            entry.taken.set_result(None)
            yield entry.batch
