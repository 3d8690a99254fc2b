"""POST rows to an HTTP endpoint as JSON or NDJSON, retrying what may pass."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import httpx
import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import ProcessorSpec, Sink, ui
from dataflow.processor.base import with_error_column
from dataflow_processors._http import (
    HttpConnectionConfig,
    describe_error,
    describe_response,
    retry_after,
    transient,
)
from dataflow_processors._sql import query

CONTENT_TYPES = {"json": "application/json", "ndjson": "application/x-ndjson"}


class HttpPostConfig(HttpConnectionConfig, kw_only=True):
    """POSTs the rows to `url`, up to `max_records_per_request` per request: as a JSON array
    of objects (format json) or one object per line (format ndjson). A batch counts as written
    once every request got a 2xx answer.

    Connection errors, timeouts, 429 and 5xx answers are retried `max_retries` times with
    backoff (a `Retry-After` is honoured). A request that still fails, or gets another 4xx
    status, sends its rows to `failure` with `error` = the status and the start of the answer
    (on_error route); with the other policies the node raises, and the engine applies them
    to the whole batch: `retry` posts the requests that had succeeded again (at-least-once).
    """

    format: Annotated[
        Literal["json", "ndjson"],
        ui(
            "Format",
            "json: a JSON array of objects (application/json); ndjson: one object per line"
            " (application/x-ndjson).",
        ),
    ] = "json"
    max_records_per_request: Annotated[
        int,
        ui("Records per request", "Larger batches are sent in several requests.", ge=1),
    ] = 1000


class HttpPost(Sink[HttpPostConfig]):
    spec = ProcessorSpec(
        name="http_post",
        category="sink",
        status="beta",
        icon="http",
        title="HTTP post",
        summary="Send rows to an HTTP endpoint as JSON or NDJSON.",
        inputs=("in",),
        examples=[
            {"url": "https://api.example.com/v1/orders/bulk", "max_records_per_request": 500},
            {
                "url": "https://logs.example.com/ingest",
                "format": "ndjson",
                "headers": {"X-Source": "dataflow"},
                "on_error": "route",
            },
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._client: httpx.AsyncClient | None = None

    def confine(self) -> None:
        self.allowed_url(self.config.url, "url")

    async def open(self) -> None:
        self._client = self.config.client(self.context.reach)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        schema = inputs.get("in")
        if self.config.on_error == "route" and schema is not None:
            return {"failure": schema.append(pa.field("error", pa.string()))}
        return {}

    async def write_async(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch] | None:
        step = self.config.max_records_per_request
        failed: list[pa.RecordBatch] = []
        for start in range(0, batch.num_rows, step):
            rows = batch.slice(start, step)
            body = await asyncio.to_thread(self._serialize, rows)
            error = await self._post(body)
            if error is None:
                continue
            if self.config.on_error != "route":
                raise ConnectionError(error)
            failed.append(with_error_column(rows, error))
        if not failed:
            return None
        return {"failure": pa.Table.from_batches(failed).combine_chunks().to_batches()[0]}

    def _serialize(self, rows: pa.RecordBatch) -> bytes:
        """The request body from one DuckDB call and one Arrow join: no per-row Python."""
        texts = query("SELECT to_json(r) FROM input AS r", rows).column(0).combine_chunks()
        one_list = pa.ListArray.from_arrays(pa.array([0, len(texts)], pa.int32()), texts)
        if self.config.format == "ndjson":
            joined = pc.binary_join(one_list, "\n")
            return joined[0].as_buffer().to_pybytes() + b"\n"
        return b"[" + pc.binary_join(one_list, ",")[0].as_buffer().to_pybytes() + b"]"

    async def _post(self, body: bytes) -> str | None:
        """POST with retries; None when the server took it, else why it did not."""
        assert self._client is not None, "open() first"
        cfg = self.config
        headers = {"Content-Type": CONTENT_TYPES[cfg.format]}
        for attempt in range(cfg.max_retries + 1):
            wait = None
            try:
                response = await self._client.post(cfg.url, content=body, headers=headers)
            except httpx.TransportError as exc:
                problem = describe_error(exc)
            else:
                if response.is_success:
                    return None
                problem, wait = describe_response(response), retry_after(response)
                if not transient(response.status_code):
                    return f"POST {cfg.url}: {problem}"
            if attempt < cfg.max_retries:
                delay = cfg.backoff(attempt, wait)
                self.log.warning(
                    "%s: POST %s failed (%s); retry %d/%d in %.1f s",
                    self.context.node_id,
                    cfg.url,
                    problem,
                    attempt + 1,
                    cfg.max_retries,
                    delay,
                )
                await asyncio.sleep(delay)
        return f"POST {cfg.url}: {problem} (after {cfg.max_retries} retries)"
