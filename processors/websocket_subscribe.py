"""Read a live WebSocket feed: each message a record, reconnecting with backoff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import pyarrow as pa
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from dataflow.processor import ProcessorSpec, Source, ui
from dataflow.processor.base import with_error_column
from dataflow_processors._fields import BatchSize, LingerMs
from dataflow_processors._http import (
    EMPTY,
    IDLE_SECONDS,
    HttpConnectionConfig,
    decode_messages,
    describe_error,
    sleep_yielding,
)

FAILURE_SCHEMA = pa.schema([("message", pa.string()), ("error", pa.string())])


class WebsocketSubscribeConfig(HttpConnectionConfig, kw_only=True):
    """Connects to `url`, sends `subscribe_message` if set, and emits each message as a record:
    with format json, a JSON object's fields become columns and a JSON array of objects gives
    several records; with format text, the message is one `message` column. Messages are
    collected into batches of up to `batch_size`, waiting at most `linger_ms`.

    A dropped connection is opened again with exponential backoff (up to
    `max_backoff_seconds`), and the subscribe message sent again; the messages sent while it
    was down are not received. A live feed has no offset: a restart starts from the messages
    sent after it. The first connection is tried `max_retries` times, then the node fails; a
    server refusing the handshake with a 4xx status fails it at once. A message that is not
    JSON goes to `failure` with its text and the reason (on_error route).
    """

    url: Annotated[
        str,
        ui(
            "URL",
            "ws:// or wss:// address of the feed.",
            placeholder="wss://stream.example.com/v1/trades",
            pattern=r"^wss?://",
        ),
    ]
    on_error: Annotated[
        Literal["fail", "route", "retry", "drop"],
        ui(
            "On error",
            "What happens to a message that is not JSON. route: to the `failure` port with its"
            " text and the reason; drop: log and skip; fail or retry: stop the run.",
            advanced=True,
        ),
    ] = "route"
    subscribe_message: Annotated[
        str,
        ui(
            "Subscribe message",
            "Text sent after each connect, e.g. the channels to subscribe to; empty: none.",
            widget="textarea",
            placeholder='{"op": "subscribe", "channel": "trades"}',
        ),
    ] = ""
    format: Annotated[
        Literal["json", "text"],
        ui(
            "Message format",
            "json: fields of each object become columns; text: one `message` column.",
        ),
    ] = "json"
    batch_size: BatchSize = 1000
    linger_ms: LingerMs = 200
    max_backoff_seconds: Annotated[
        float,
        ui(
            "Max backoff (s)",
            "Longest wait between two reconnect attempts; the wait doubles from"
            " retry_backoff_seconds.",
            gt=0,
        ),
    ] = 30.0


class WebsocketSubscribe(Source[WebsocketSubscribeConfig]):
    spec = ProcessorSpec(
        name="websocket_subscribe",
        category="source",
        status="beta",
        icon="http",
        title="WebSocket subscribe",
        summary="Receive the messages of a WebSocket feed as records.",
        outputs=("out",),
        examples=[
            {
                "url": "wss://stream.example.com/v1/trades",
                "subscribe_message": '{"op": "subscribe", "channel": "trades"}',
            },
            {"url": "ws://localhost:9000/logs", "format": "text", "batch_size": 500},
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._ws: ClientConnection | None = None
        self._connected_once = False
        #: Times the feed was connected (the first time included).
        self.connections = 0

    async def close(self) -> None:
        if self._ws is not None:
            ws, self._ws = self._ws, None
            await ws.close()

    async def batches(self) -> AsyncIterator[pa.RecordBatch | tuple[str, pa.RecordBatch]]:
        attempt = 0
        while True:
            if self._ws is None:
                try:
                    await self._connect()
                    attempt = 0
                except (OSError, TimeoutError, WebSocketException) as exc:
                    delay = self._failed(exc, attempt)
                    attempt += 1
                    async for idle in sleep_yielding(delay):
                        yield idle
                    continue
            messages, dropped = await self._collect()
            if dropped:
                self.context.problem(
                    f"{self.config.url} dropped the connection ({dropped}); reconnecting"
                )
                self._ws = None
            if not messages:
                yield EMPTY  # idle: the engine may pause, stop or checkpoint now
                continue
            good, bad = await asyncio.to_thread(self._decode, messages)
            if bad is not None:
                yield "failure", bad
            if good is not None:
                yield good

    def confine(self) -> None:
        self.allowed_url(self.config.url, "url")

    async def _connect(self) -> None:
        cfg = self.config
        self.context.reach.url(cfg.url)  # HostNotAllowed: fails the run, never retried
        self._ws = await connect(
            cfg.url, additional_headers=cfg.request_headers(), open_timeout=cfg.timeout_seconds
        )
        self.connections += 1
        self._connected_once = True
        if cfg.subscribe_message:
            await self._ws.send(cfg.subscribe_message)

    def _failed(self, exc: BaseException, attempt: int) -> float:
        """The wait before the next connect, or raise when trying again cannot help."""
        cfg = self.config
        if isinstance(exc, PermissionError):  # a host the server does not allow
            raise exc
        reason = describe_error(exc)
        if isinstance(exc, InvalidStatus):
            status = exc.response.status_code
            reason = f"handshake refused with HTTP {status}"
            if 400 <= status < 500 and status != 429:
                raise ConnectionError(f"cannot subscribe to {cfg.url}: {reason}") from exc
        if isinstance(exc, InvalidURI) or (not self._connected_once and attempt >= cfg.max_retries):
            raise ConnectionError(
                f"cannot connect to {cfg.url}: {reason} (after {attempt} retries)"
            ) from exc
        delay = min(cfg.retry_backoff_seconds * 2**attempt, cfg.max_backoff_seconds)
        self.context.problem(f"cannot connect to {cfg.url} ({reason}); retrying in {delay:.1f} s")
        return delay

    async def _collect(self) -> tuple[list[str | bytes], str | None]:
        """Messages until batch_size, linger_ms after the first, or IDLE_SECONDS without any;
        and why the connection dropped, if it did."""
        assert self._ws is not None
        cfg = self.config
        messages: list[str | bytes] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + IDLE_SECONDS
        while len(messages) < cfg.batch_size:
            try:
                # recv() may be cancelled safely: a message not returned stays queued.
                async with asyncio.timeout(max(deadline - loop.time(), 0)):
                    message = await self._ws.recv()
            except TimeoutError:
                break
            except ConnectionClosed as exc:
                return messages, describe_error(exc)
            if not messages:
                deadline = min(deadline, loop.time() + cfg.linger_ms / 1000)
            messages.append(message)
        return messages, None

    def _decode(
        self, messages: list[str | bytes]
    ) -> tuple[pa.RecordBatch | None, pa.RecordBatch | None]:
        """The records, and the messages that could not be decoded (in a worker thread)."""
        if self.config.format == "text":
            texts = [m if isinstance(m, str) else m.decode("utf-8", "replace") for m in messages]
            return pa.RecordBatch.from_pydict({"message": pa.array(texts, pa.string())}), None
        raw = [m.encode() if isinstance(m, str) else m for m in messages]
        table, errors = decode_messages(raw)
        good = table.combine_chunks().to_batches()[0] if table.num_rows else None
        if not errors:
            return good, None
        first = min(errors)
        where = f"message {first} of a batch from {self.config.url}"
        if self.config.on_error == "fail" or self.config.on_error == "retry":
            raise ValueError(f"{where}: {errors[first]}")
        if self.config.on_error == "drop":
            self.log.warning(
                "%s: dropped %d undecodable messages; %s: %s",
                self.context.node_id,
                len(errors),
                where,
                errors[first],
            )
            return good, None
        texts = [raw[i].decode("utf-8", "replace") for i in sorted(errors)]
        bad = pa.RecordBatch.from_pydict({"message": pa.array(texts, pa.string())})
        return good, with_error_column(bad, pa.array([errors[i] for i in sorted(errors)]))

    def output_schema(self, inputs: Any) -> dict[str, pa.Schema] | None:
        if self.config.format == "json":
            return None  # the columns come from the data
        out = {"out": pa.schema([("message", pa.string())])}
        if self.config.on_error == "route":
            out["failure"] = FAILURE_SCHEMA
        return out
