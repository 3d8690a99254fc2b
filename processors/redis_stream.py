"""Consume a Redis stream with a consumer group; entries are acknowledged once sinks wrote them."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pyarrow as pa
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import XReadGroupResponse

from dataflow.processor import ProcessorConfig, ProcessorSpec, Source, ui
from dataflow_processors._fields import Password, RedisUrl, check_redis_url, redis_server

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisConnection(ProcessorConfig, kw_only=True):
    """Where the server is: shared by redis_stream and redis_write."""

    url: RedisUrl = "redis://127.0.0.1:6379/0"
    password: Password = None

    def __post_init__(self) -> None:
        check_redis_url(self.url)  # ValueError naming the allowed schemes

    @property
    def server(self) -> str:
        """host:port/db, for error messages (never the password)."""
        return redis_server(self.url)

    def client(self, **options: Any) -> aioredis.Redis:
        if self.password:
            options["password"] = self.password
        return aioredis.Redis.from_url(
            self.url, decode_responses=True, socket_connect_timeout=10, **options
        )


class RedisStreamConfig(RedisConnection, kw_only=True):
    """Reads `stream` as a member of a consumer group (XREADGROUP; the group and the stream
    are created when missing). Each entry becomes a row: its id in `id_column`, each field a
    string column (UTF-8), null where an entry lacks the field.

    Delivery: at-least-once. An entry is acknowledged (XACK) only once everything up to it was
    written by the sinks (the checkpoint's commit); until then it stays in the group's pending
    list. After a restart this consumer's pending entries are read again first, then new ones.
    When the server goes away during a run, the source reconnects with backoff.
    """

    stream: Annotated[str, ui("Stream", "Stream key.", placeholder="orders", min_length=1)]
    group: Annotated[str, ui("Group", "Consumer group name.", min_length=1)] = "dataflow"
    consumer: Annotated[
        str | None, ui("Consumer", "Consumer name in the group; empty: the node id.")
    ] = None
    start_id: Annotated[
        str,
        ui(
            "Group start",
            "Where a newly created group starts: 0 = the whole stream, "
            "$ = only entries added from now on.",
            advanced=True,
        ),
    ] = "0"
    count: Annotated[int, ui("Count", "Entries per read (and batch) at most.", ge=1)] = 1000
    block_ms: Annotated[
        int, ui("Block (ms)", "How long one read waits for new entries.", ge=1, le=60_000)
    ] = 1000
    id_column: Annotated[
        str, ui("Id column", "Column holding each entry's id.", advanced=True, min_length=1)
    ] = "id"
    reconnect_seconds: Annotated[
        float,
        ui(
            "Reconnect for (s)",
            "When the server goes away during a run, keep reconnecting "
            "(waits double from the retry backoff, up to 30 s) this long, then fail.",
            advanced=True,
            ge=0,
        ),
    ] = 300.0


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _stream_entries(reply: XReadGroupResponse) -> list[tuple[str, dict[str, str] | None]]:
    """The entries of the one stream read. redis-py types the reply of every response shape;
    the client keeps its default legacy (RESP2-shaped) responses, [[stream, [(id, fields),
    ...]]], empty when nothing came."""
    if not reply:
        return []
    assert isinstance(reply, list), f"XREADGROUP reply is not RESP2's list: {reply!r}"
    entries: list[tuple[str, dict[str, str] | None]] = reply[0][1]
    return entries


class RedisStream(Source[RedisStreamConfig]):
    spec = ProcessorSpec(
        name="redis_stream",
        category="source",
        status="beta",
        icon="database",
        title="Redis stream",
        summary="Entries of a Redis stream, read with a consumer group, acked after writing.",
        outputs=("out",),
        examples=[{"url": "redis://cache:6379/0", "stream": "orders", "group": "billing"}],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._client: aioredis.Redis | None = None
        self.consumer = self.config.consumer or self.context.node_id
        # Ids delivered downstream and not yet acked, in delivery order, which is id order:
        # pending entries come back oldest first, new ones are newer than all of those.
        self.unacked: list[str] = []
        self.last = "0"

    def offset(self) -> str | None:
        """The last id emitted; commit(offset) acks every emitted id up to it. The group's
        pending list is the durable position, so restore() has nothing to do."""
        return None if self.last == "0" else self.last

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise RuntimeError(f"redis_stream in node '{self.context.node_id}': used before open()")
        return self._client

    async def open(self) -> None:
        # A read blocks up to block_ms; longer than that plus slack, the connection is dead.
        self._client = self.config.client(socket_timeout=self.config.block_ms / 1000 + 10)
        try:
            await self._ensure_group()  # an unreachable server fails the start, clearly
        except UNREACHABLE as exc:
            await self._client.aclose()
            raise ConnectionError(
                f"cannot connect to Redis at {self.config.server}: {exc}"
            ) from exc

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def commit(self, offset: Any) -> None:
        if not offset or self._client is None:
            return
        done = bisect.bisect_right(self.unacked, _id_key(offset), key=_id_key)
        if not done:
            return
        try:
            await self.client.xack(self.config.stream, self.config.group, *self.unacked[:done])
        except UNREACHABLE as exc:
            # Acks are cumulative: the next commit acks these too; until then they stay pending.
            self.log.warning(
                "redis_stream in node '%s': ack failed, retried at the next commit: %s",
                self.context.node_id,
                exc,
            )
            return
        del self.unacked[:done]

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        cfg = self.config
        pending = True  # first what was delivered to this consumer and never acked
        down_since, wait = None, max(cfg.retry_backoff_seconds, 0.1)
        while True:
            try:
                reply = await self.client.xreadgroup(
                    cfg.group,
                    self.consumer,
                    {cfg.stream: self.last if pending else ">"},
                    count=cfg.count,
                    block=None if pending else cfg.block_ms,
                )
            except UNREACHABLE as exc:
                message = f"lost Redis at {cfg.server}: {exc}"
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since >= cfg.reconnect_seconds:
                    raise ConnectionError(f"{message} (gave up reconnecting)") from exc
                self.context.problem(f"{message}; reconnecting in {wait:.1f}s")
                await asyncio.sleep(wait)  # the client reconnects on the next command
                wait = min(wait * 2, 30.0)
                # A reply lost with the connection may have delivered entries to this
                # consumer: read its own pending list again before new entries.
                pending = True
                continue
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await self._ensure_group()  # the stream was deleted, or Redis restarted empty
                continue
            down_since, wait = None, max(cfg.retry_backoff_seconds, 0.1)
            entries = _stream_entries(reply)
            if not entries:
                pending = False
                continue
            batch = self._to_batch(entries)
            self.last = entries[-1][0]
            self.unacked.extend(entry_id for entry_id, _ in entries)
            yield batch

    def _to_batch(self, entries: list[tuple[str, dict[str, str] | None]]) -> pa.RecordBatch:
        # redis-py hands entries over as Python dicts: gathering them into columns is the one
        # per-entry step, and there is no columnar reply to avoid it with.
        fields = [f or {} for _, f in entries]  # None: a pending entry deleted from the stream
        names = dict.fromkeys(k for f in fields for k in f if k != self.config.id_column)
        columns: dict[str, list[str | None]] = {
            self.config.id_column: [entry_id for entry_id, _ in entries]
        }
        columns.update({name: [f.get(name) for f in fields] for name in names})
        return pa.RecordBatch.from_pydict(
            columns, schema=pa.schema([(name, pa.string()) for name in columns])
        )

    async def _ensure_group(self) -> None:
        cfg = self.config
        try:
            await self.client.xgroup_create(cfg.stream, cfg.group, id=cfg.start_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):  # the group exists already: that is the usual case
                raise
