"""Fixtures for the PostgreSQL, Redis and DuckDB connector tests: scratch schemas and key
prefixes on the real servers, a TCP proxy that simulates an outage, and processor helpers.

Test modules load it with `pytest_plugins = ["tests.connectors.db_fixtures"]` (conftest.py
here belongs to the Kafka tests). They import its helpers before pytest loads it as a plugin,
too late for assertion rewriting: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
import redis.asyncio as aioredis
from psycopg import sql

from dataflow.processor import Context, Processor, Sink, Source

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def make(cls: type[Processor], config: Mapping[str, Any], data_dir: Path) -> Any:
    """A processor built from a raw config dict, as a node of a flow would be."""
    return cls(cls.parse_config(config), Context(node_id="n", run_id="r", data_dir=data_dir))


async def pull(source: Source, limit: int, timeout: float = 10) -> list[pa.RecordBatch]:
    """The next `limit` batches of an opened source (fewer if it ends first)."""
    out: list[pa.RecordBatch] = []
    stream = source.batches()

    async def drain() -> None:
        async for batch in stream:
            out.append(batch)
            if len(out) >= limit:
                break

    try:
        await asyncio.wait_for(drain(), timeout)
    finally:
        await stream.aclose()
    return out


def rows(batches: Iterable[pa.RecordBatch]) -> list[dict[str, Any]]:
    return [row for batch in batches for row in batch.to_pylist()]


async def write_all(sink: Sink, batches: Iterable[pa.RecordBatch | list[dict]]) -> None:
    """Open, write every batch, flush and close, as the engine does."""
    await sink.open()
    try:
        for batch in batches:
            if not isinstance(batch, pa.RecordBatch):
                batch = pa.RecordBatch.from_pylist(batch)
            await sink.write_async(batch)
        await sink.flush_async()
    finally:
        await sink.close()


@pytest.fixture
async def pg() -> AsyncIterator[psycopg.AsyncConnection]:
    """An autocommit connection to the test database; fails (not skips) when it is down."""
    async with await psycopg.AsyncConnection.connect(PG_DSN, autocommit=True) as conn:
        yield conn


@pytest.fixture
async def pg_schema(pg: psycopg.AsyncConnection) -> AsyncIterator[str]:
    """A fresh schema for one test, dropped with everything in it afterwards."""
    name = f"df_test_{uuid.uuid4().hex[:12]}"
    await pg.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        await pg.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    await client.ping()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def redis_prefix(redis_client: aioredis.Redis) -> AsyncIterator[str]:
    """A key prefix for one test; every key under it is deleted afterwards."""
    prefix = f"df_test:{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        keys = [key async for key in redis_client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis_client.delete(*keys)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a server; `stop()` drops every connection and refuses new
    ones until `start()`: an outage for the client without touching the shared server."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server
        self._transports: set[asyncio.BaseTransport] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def running(self) -> bool:
        return self._server.is_serving()

    async def stop(self) -> None:
        self._server.close()
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._transports |= {writer.transport, up_writer.transport}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._transports.discard(writer.transport)


@pytest.fixture
async def pg_proxy() -> AsyncIterator[TcpProxy]:
    proxy = await TcpProxy(5432).start()
    try:
        yield proxy
    finally:
        if proxy.running:
            await proxy.stop()


@pytest.fixture
async def redis_proxy() -> AsyncIterator[TcpProxy]:
    proxy = await TcpProxy(6379).start()
    try:
        yield proxy
    finally:
        if proxy.running:
            await proxy.stop()
