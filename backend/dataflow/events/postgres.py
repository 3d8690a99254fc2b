"""The PostgreSQL journal: one journal shared by the nodes of a cluster."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

from psycopg import AsyncConnection, AsyncCursor, errors, sql
from psycopg_pool import AsyncConnectionPool

from dataflow.events.journal import (
    ConcurrencyError,
    EventData,
    Journal,
    RecordedEvent,
    Snapshot,
    event_from_row,
    metadata_json,
)

DEFAULT_SCHEMA = "dataflow"

_MAX_VERSION = 2**63 - 1  # "no upper bound" for version ranges (BIGINT's largest)

# {events}, {snapshots} and {head} are filled in with schema-qualified identifiers.
_DDL = """
CREATE TABLE IF NOT EXISTS {events} (
    position    BIGINT           PRIMARY KEY,
    stream      TEXT             NOT NULL,
    version     BIGINT           NOT NULL,
    type        TEXT             NOT NULL,
    data        BYTEA            NOT NULL,
    metadata    JSON             NOT NULL,
    recorded_at DOUBLE PRECISION NOT NULL,
    UNIQUE (stream, version)
);
CREATE TABLE IF NOT EXISTS {snapshots} (
    stream      TEXT             NOT NULL,
    version     BIGINT           NOT NULL,
    data        BYTEA            NOT NULL,
    recorded_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (stream, version)
);
CREATE TABLE IF NOT EXISTS {head} (
    id       BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    position BIGINT  NOT NULL
);
INSERT INTO {head} (id, position) VALUES (TRUE, 0) ON CONFLICT DO NOTHING;
"""

_EVENT_COLUMNS = sql.SQL("stream, version, position, type, data, metadata::text, recorded_at")


class PostgresJournal(Journal):
    """A journal in three tables of one schema, created on first use.

    The URL is a libpq one plus an optional `?schema=NAME` (default `dataflow`), which
    keeps the tables apart from other applications' and lets tests isolate themselves.

    Positions come from a one-row counter (`journal_head`) updated in the appending
    transaction. Its row lock is held until commit, so appends take positions in commit
    order and a rolled-back append gives its positions back: `read_all` sees a gapless
    sequence that only grows at the end. A sequence (BIGSERIAL) would not do: a later
    transaction could commit a higher position first, and a reader would skip the lower.
    """

    name = "postgresql"

    def __init__(self, url: str, *, max_connections: int = 10) -> None:
        self.conninfo, self.schema = _split_schema(url)
        self._max_connections = max_connections
        self._pool: AsyncConnectionPool | None = None
        self._opening = asyncio.Lock()
        self._closed = False
        self._events = sql.Identifier(self.schema, "events")
        self._snapshots = sql.Identifier(self.schema, "snapshots")
        self._head = sql.Identifier(self.schema, "journal_head")

    async def append(self, stream: str, expected_version: int, events: Sequence[EventData]) -> int:
        if not events:
            actual = await self.stream_version(stream)
            if actual != expected_version:
                raise ConcurrencyError(stream, expected_version, actual)
            return actual
        pool = await self._ready()
        try:
            async with pool.connection() as conn, conn.transaction():
                await self._append(conn, stream, expected_version, events)
        except errors.UniqueViolation:
            # Only a writer that bypassed the head row can get here; same meaning, though.
            actual = await self.stream_version(stream)
            raise ConcurrencyError(stream, expected_version, actual) from None
        return expected_version + len(events)

    async def read(
        self, stream: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        rows = await self._query(
            sql.SQL(
                "SELECT {columns} FROM {events}"
                " WHERE stream = %s AND version BETWEEN %s AND %s ORDER BY version"
            ).format(columns=_EVENT_COLUMNS, events=self._events),
            (stream, from_version, _MAX_VERSION if to_version is None else to_version),
        )
        return [event_from_row(row) for row in rows]

    async def read_all(self, from_position: int = 1, limit: int = 1000) -> list[RecordedEvent]:
        if limit <= 0:
            return []
        rows = await self._query(
            sql.SQL(
                "SELECT {columns} FROM {events} WHERE position >= %s ORDER BY position LIMIT %s"
            ).format(columns=_EVENT_COLUMNS, events=self._events),
            (from_position, limit),
        )
        return [event_from_row(row) for row in rows]

    async def stream_version(self, stream: str) -> int:
        async with (await self._ready()).connection() as conn:
            return await self._version(conn, stream)

    async def save_snapshot(self, stream: str, version: int, data: bytes) -> None:
        await self._query(
            sql.SQL(
                "INSERT INTO {snapshots} (stream, version, data, recorded_at)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (stream, version)"
                " DO UPDATE SET data = excluded.data, recorded_at = excluded.recorded_at"
            ).format(snapshots=self._snapshots),
            (stream, version, data, time.time()),
            fetch=False,
        )

    async def load_snapshot(self, stream: str, max_version: int | None = None) -> Snapshot | None:
        rows = await self._query(
            sql.SQL(
                "SELECT stream, version, data, recorded_at FROM {snapshots}"
                " WHERE stream = %s AND version <= %s ORDER BY version DESC LIMIT 1"
            ).format(snapshots=self._snapshots),
            (stream, _MAX_VERSION if max_version is None else max_version),
        )
        if not rows:
            return None
        stream, version, data, recorded_at = rows[0]
        return Snapshot(stream=stream, version=version, data=data, recorded_at=recorded_at)

    async def ping(self) -> bool:
        await self._query(sql.SQL("SELECT 1"), ())
        return True

    async def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _append(
        self, conn: AsyncConnection, stream: str, expected: int, events: Sequence[EventData]
    ) -> None:
        # Locking the head row first serializes appends journal-wide until commit: that is
        # what keeps positions gapless and in commit order (see the class docstring).
        cursor = await conn.execute(
            sql.SQL("UPDATE {head} SET position = position + %s RETURNING position").format(
                head=self._head
            ),
            (len(events),),
        )
        (last,) = await _one_row(cursor, "the journal head row is missing")
        actual = await self._version(conn, stream)
        if actual != expected:
            raise ConcurrencyError(stream, expected, actual)  # rolls the head back too
        first = last - len(events) + 1
        now = time.time()
        await cursor.executemany(
            sql.SQL(
                "INSERT INTO {events} (position, stream, version, type, data, metadata,"
                " recorded_at) VALUES (%s, %s, %s, %s, %s, %s::json, %s)"
            ).format(events=self._events),
            [
                (
                    first + i,
                    stream,
                    expected + 1 + i,
                    e.type,
                    e.data,
                    metadata_json(e.metadata),
                    now,
                )
                for i, e in enumerate(events)
            ],
        )

    async def _version(self, conn: AsyncConnection, stream: str) -> int:
        cursor = await conn.execute(
            sql.SQL("SELECT coalesce(max(version), 0) FROM {events} WHERE stream = %s").format(
                events=self._events
            ),
            (stream,),
        )
        (version,) = await _one_row(cursor, "max(version) returned no row")
        return version

    async def _query(
        self, query: sql.SQL | sql.Composed, params: Sequence[Any], *, fetch: bool = True
    ) -> list[tuple[Any, ...]]:
        async with (await self._ready()).connection() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall() if fetch else []

    async def _ready(self) -> AsyncConnectionPool:
        if self._closed:
            raise RuntimeError(f"postgresql journal (schema {self.schema!r}) is closed")
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await self._open_pool()
        return self._pool

    async def _open_pool(self) -> AsyncConnectionPool:
        pool = AsyncConnectionPool(
            self.conninfo,
            min_size=1,
            max_size=self._max_connections,
            kwargs={"autocommit": True},  # transactions are explicit, only in append
            name=f"journal-{self.schema}",
            open=False,
        )
        try:
            # wait: an unreachable server fails the first call instead of every later one
            await pool.open(wait=True, timeout=10.0)
            async with pool.connection() as conn, conn.transaction():
                await self._create_tables(conn)
        except BaseException:
            await pool.close()
            raise
        return pool

    async def _create_tables(self, conn: AsyncConnection) -> None:
        # Concurrent CREATE ... IF NOT EXISTS can still collide in the catalogs when
        # several nodes start at once; a lock taken by every starter avoids that.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('dataflow.journal.ddl'))")
        cursor = await conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,))
        # CREATE SCHEMA needs a privilege on the database even when the schema exists.
        if await cursor.fetchone() is None:
            await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
        await conn.execute(
            sql.SQL(_DDL).format(events=self._events, snapshots=self._snapshots, head=self._head)
        )


def _split_schema(url: str) -> tuple[str, str]:
    """The URL without its `schema` query parameter (libpq rejects it), and that schema."""
    base, _, query = url.partition("?")
    params = parse_qsl(query, keep_blank_values=True)
    schema = next((value for key, value in params if key == "schema"), DEFAULT_SCHEMA)
    rest = urlencode([(key, value) for key, value in params if key != "schema"])
    return (f"{base}?{rest}" if rest else base), schema


async def _one_row(cursor: AsyncCursor[tuple[Any, ...]], missing: str) -> tuple[Any, ...]:
    row = await cursor.fetchone()
    if row is None:
        raise RuntimeError(f"PostgreSQL journal: {missing}")
    return row
