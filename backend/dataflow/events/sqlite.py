"""The SQLite journal: the embedded default, one file in WAL mode, durable on commit."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from dataflow.events.journal import (
    ConcurrencyError,
    EventData,
    Journal,
    RecordedEvent,
    Snapshot,
    event_from_row,
    metadata_json,
)

T = TypeVar("T")

_MAX_VERSION = 2**63 - 1  # "no upper bound" for version ranges (SQLite's largest integer)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position    INTEGER PRIMARY KEY,
    stream      TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    data        BLOB    NOT NULL,
    metadata    TEXT    NOT NULL,  -- JSON
    recorded_at REAL    NOT NULL,
    UNIQUE (stream, version)
);
CREATE TABLE IF NOT EXISTS snapshots (
    stream      TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    data        BLOB    NOT NULL,
    recorded_at REAL    NOT NULL,
    PRIMARY KEY (stream, version)
);
"""

_BUSY_TIMEOUT = 30.0  # seconds to wait for another connection's write lock

_EVENT_COLUMNS = "stream, version, position, type, data, metadata, recorded_at"


class SqliteJournal(Journal):
    """A journal in one SQLite file, created with its parent directories on first use.

    sqlite3 blocks, so one worker thread owns the connection and runs every call: the
    event loop never waits on disk, and writes are serialized, which SQLite does anyway.
    """

    name = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-journal")
        self._conn: sqlite3.Connection | None = None  # touched only by the worker thread
        self._closed = False

    async def append(self, stream: str, expected_version: int, events: Sequence[EventData]) -> int:
        return await self._call(self._append, stream, expected_version, list(events))

    async def read(
        self, stream: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        rows = await self._call(
            self._query,
            f"SELECT {_EVENT_COLUMNS} FROM events"
            " WHERE stream = ? AND version BETWEEN ? AND ? ORDER BY version",
            (stream, from_version, _MAX_VERSION if to_version is None else to_version),
        )
        return [event_from_row(row) for row in rows]

    async def read_all(self, from_position: int = 1, limit: int = 1000) -> list[RecordedEvent]:
        if limit <= 0:  # SQLite reads LIMIT -1 as "no limit"
            return []
        rows = await self._call(
            self._query,
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?",
            (from_position, limit),
        )
        return [event_from_row(row) for row in rows]

    async def stream_version(self, stream: str) -> int:
        rows = await self._call(
            self._query, "SELECT coalesce(max(version), 0) FROM events WHERE stream = ?", (stream,)
        )
        return rows[0][0]

    async def save_snapshot(self, stream: str, version: int, data: bytes) -> None:
        await self._call(
            self._query,
            "INSERT OR REPLACE INTO snapshots (stream, version, data, recorded_at)"
            " VALUES (?, ?, ?, ?)",
            (stream, version, data, time.time()),
        )

    async def load_snapshot(self, stream: str, max_version: int | None = None) -> Snapshot | None:
        rows = await self._call(
            self._query,
            "SELECT stream, version, data, recorded_at FROM snapshots"
            " WHERE stream = ? AND version <= ? ORDER BY version DESC LIMIT 1",
            (stream, _MAX_VERSION if max_version is None else max_version),
        )
        if not rows:
            return None
        stream, version, data, recorded_at = rows[0]
        return Snapshot(stream=stream, version=version, data=data, recorded_at=recorded_at)

    async def ping(self) -> bool:
        await self._call(self._query, "SELECT 1", ())
        return True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._disconnect)
        self._executor.shutdown(wait=False)

    # --- worker thread ---------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError(f"sqlite journal {self.path!r} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), not the module's.
            # The timeout waits for other processes or instances holding the write lock.
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=_BUSY_TIMEOUT)
            try:
                _enable_wal(conn)
                # NORMAL would be WAL's usual choice, but it can lose the last commits on
                # power loss, and nothing accepted may ever be lost.
                conn.execute("PRAGMA synchronous = FULL")
                conn.executescript(_SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _query(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._connection().execute(query, params).fetchall()

    def _append(self, stream: str, expected: int, events: list[EventData]) -> int:
        conn = self._connection()
        # IMMEDIATE takes the write lock up front, so the version check and the position
        # count below cannot be overtaken by another writer before we commit.
        conn.execute("BEGIN IMMEDIATE")
        try:
            (actual,) = conn.execute(
                "SELECT coalesce(max(version), 0) FROM events WHERE stream = ?", (stream,)
            ).fetchone()
            if actual != expected:
                raise ConcurrencyError(stream, expected, actual)
            (head,) = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
            now = time.time()
            conn.executemany(
                "INSERT INTO events (position, stream, version, type, data, metadata, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (head + i, stream, expected + i, e.type, e.data, metadata_json(e.metadata), now)
                    for i, e in enumerate(events, start=1)
                ],
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # some errors (disk full) already rolled back
                conn.execute("ROLLBACK")
            raise
        return expected + len(events)


def _enable_wal(conn: sqlite3.Connection) -> None:
    # Switching a new file to WAL needs it to itself and SQLite does not wait for that (no
    # busy handler), so instances opening one new file at the same moment must retry.
    deadline = time.monotonic() + _BUSY_TIMEOUT
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
