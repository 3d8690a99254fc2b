"""Read a PostgreSQL query as Arrow batches through ADBC, once or polled, optionally incremental."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import Annotated, Any, Literal, TypeVar

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc_pg
import pyarrow as pa
from psycopg import sql

from dataflow.processor import ProcessorConfig, ProcessorSpec, Source, ui
from dataflow_processors._fields import (
    BatchSize,
    Password,
    PostgresDsn,
    check_dsn,
    postgres_conninfo,
    postgres_server,
)

T = TypeVar("T")

# Driver prefixes around the reason: "IO: [libpq] Failed to connect: ... port 5432 failed: ",
# "NOT_FOUND: Failed to prepare query: ERROR:  ".
_NOISE = re.compile(r"^[A-Z_]+: |\[libpq\] |Failed to [a-z ]+: |.* failed: |(?:ERROR|FATAL):\s+")


def reason(exc: BaseException) -> str:
    """The first line of a driver error, without status prefixes and the query echo."""
    lines = str(exc).strip().splitlines()
    return _NOISE.sub("", lines[0]).strip() if lines else type(exc).__name__


class PostgresConnection(ProcessorConfig, kw_only=True):
    """Where the server is: shared by postgres_query and postgres_write."""

    dsn: PostgresDsn
    password: Password = None

    def __post_init__(self) -> None:
        check_dsn(self.dsn)

    @property
    def server(self) -> str:
        """host:port/database, for error messages (never the password)."""
        return postgres_server(self.dsn)

    def conninfo(self) -> str:
        return postgres_conninfo(self.dsn, self.password)


class PostgresQueryConfig(PostgresConnection, kw_only=True):
    """Runs `query` and emits its rows as Arrow batches, read column by column through ADBC
    (PostgreSQL's binary COPY protocol), never row by row.

    With a `tracking_column` (an increasing id or timestamp) each poll reads only the rows
    whose value is greater than the last one emitted, in its order (JDBC-style incremental
    polling). That value is the source's offset: a restarted run resumes after it. Rows that
    appear later with a value at or below it (an equal timestamp, a late commit) are not read;
    prefer an id or a commit-time timestamp.

    Delivery: at-least-once. Without a tracking column every poll reads the whole result
    again. When the server goes away during a run, the source reconnects with backoff and
    continues after the last row emitted; a server unreachable at start fails the run at once.
    numeric columns arrive as their exact text: cast in the query (`amount::float8`) for a
    number.
    """

    query: Annotated[
        str,
        ui(
            "Query",
            "A SELECT statement.",
            widget="sql",
            placeholder="SELECT * FROM orders",
            min_length=1,
        ),
    ]
    mode: Annotated[
        Literal["once", "schedule"],
        ui("Mode", "once: run the query and finish; schedule: run it every interval."),
    ] = "once"
    interval_seconds: Annotated[
        float, ui("Interval (s)", "Time from the start of one poll to the next (schedule).", gt=0)
    ] = 60.0
    tracking_column: Annotated[
        str | None,
        ui(
            "Tracking column",
            "Increasing column (id, updated_at): poll only rows past the last "
            "value seen. Empty: every poll reads the whole result.",
            placeholder="id",
        ),
    ] = None
    batch_size: BatchSize = 65_536
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


class PostgresQuery(Source[PostgresQueryConfig]):
    spec = ProcessorSpec(
        name="postgres_query",
        category="source",
        status="beta",
        icon="database",
        title="PostgreSQL query",
        summary="Rows of a PostgreSQL query, once or polled incrementally.",
        outputs=("out",),
        examples=[
            {"dsn": "postgresql://app@db:5432/shop", "query": "SELECT * FROM customers"},
            {
                "dsn": "postgresql://app@db:5432/shop",
                "query": "SELECT id, amount, status FROM orders",
                "mode": "schedule",
                "interval_seconds": 10,
                "tracking_column": "id",
            },
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.conn: adbc_pg.Connection | None = None
        self.last: Any = None  # JSON-able tracking value of the last row emitted

    def offset(self) -> Any:
        return self.last

    def restore(self, offset: Any) -> None:
        self.last = offset

    async def open(self) -> None:
        # Connecting now makes a wrong URL or a server that is down fail the start, clearly.
        self.conn = await asyncio.to_thread(self._connect)

    async def close(self) -> None:
        await asyncio.to_thread(self._disconnect)

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        cfg = self.config
        while True:
            started = time.monotonic()
            # aclosing: a stop closes the poll (and its cursor) now, not later from the garbage
            # collector, in a thread racing close() for the same connection.
            async with contextlib.aclosing(self._poll()) as poll:
                async for batch in poll:
                    yield batch
            if cfg.mode == "once":
                return
            await asyncio.sleep(started + cfg.interval_seconds - time.monotonic())

    async def _poll(self) -> AsyncGenerator[pa.RecordBatch]:
        """One run of the query; a lost connection is retried from the last row emitted."""
        cfg, down_since, wait = self.config, None, max(self.config.retry_backoff_seconds, 0.1)
        while True:
            try:
                cursor = (await self._connection()).cursor()
                try:
                    await _in_thread(cursor, cursor.execute, self._statement())
                    reader = cursor.fetch_record_batch()
                    while (batch := await _in_thread(cursor, _read_next, reader)) is not None:
                        for piece in _split(_plain(batch), cfg.batch_size):
                            if cfg.tracking_column:
                                self.last = _jsonable(piece.column(cfg.tracking_column)[-1])
                            yield piece
                finally:
                    await asyncio.to_thread(cursor.close)
                return
            # OSError: the connection broke while the Arrow stream was read (ConnectionError:
            # reconnecting failed, and _connect already said where and why).
            except (adbc_driver_manager.OperationalError, OSError) as exc:
                await asyncio.to_thread(self._disconnect)
                message = (
                    str(exc)
                    if isinstance(exc, ConnectionError)
                    else f"lost PostgreSQL at {cfg.server}: {reason(exc)}"
                )
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since >= cfg.reconnect_seconds:
                    raise ConnectionError(f"{message} (gave up reconnecting)") from exc
                self.context.problem(f"{message}; reconnecting in {wait:.1f}s")
                await asyncio.sleep(wait)
                wait = min(wait * 2, 30.0)
            except adbc_driver_manager.Error as exc:
                raise ValueError(f"query failed: {reason(exc)}") from exc

    def _statement(self) -> str:
        cfg = self.config
        query = sql.SQL(cfg.query.strip().rstrip(";"))  # the user's SQL, run as written
        if not cfg.tracking_column:
            return query.as_string(None)
        col = sql.SQL("q.{}").format(sql.Identifier(cfg.tracking_column))
        # An untyped literal takes the column's type, so one JSON offset fits ints and times.
        if self.last is None:
            past = sql.SQL("{} IS NOT NULL").format(col)
        else:
            past = sql.SQL("{} > {}").format(col, sql.Literal(str(self.last)))
        return (
            sql.SQL("SELECT * FROM ({}) AS q WHERE {} ORDER BY {}")
            .format(query, past, col)
            .as_string(None)
        )

    async def _connection(self) -> adbc_pg.Connection:
        """The open connection, connecting again after a loss."""
        if self.conn is None:
            self.conn = await asyncio.to_thread(self._connect)
        return self.conn

    def _connect(self) -> adbc_pg.Connection:
        try:
            return adbc_pg.connect(self.config.conninfo(), autocommit=True)
        except adbc_driver_manager.Error as exc:
            raise ConnectionError(
                f"cannot connect to PostgreSQL at {self.config.server}: {reason(exc)}"
            ) from exc

    def _disconnect(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            # A dead connection cannot be closed cleanly; it is gone either way.
            with contextlib.suppress(adbc_driver_manager.Error):
                conn.close()


async def _in_thread(cursor: adbc_pg.Cursor, fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) in a worker thread. When a stop cancels the wait, the query is cancelled on
    the server and the thread returns before anything can close the cursor under it."""
    call = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(call)
    except asyncio.CancelledError:
        with contextlib.suppress(adbc_driver_manager.Error):
            cursor.adbc_cancel()
        await asyncio.wait([call])
        if not call.cancelled():
            call.exception()  # the query's "canceled" error: the stop is what counts
        raise


def _read_next(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    # StopIteration cannot cross asyncio.to_thread: the end comes back as None.
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


def _split(batch: pa.RecordBatch, size: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, size):
        yield batch.slice(start, size)  # zero-copy views


def _plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    """numeric and other types ADBC has no Arrow type for arrive as opaque extension
    arrays over their text; downstream gets the text itself."""
    if not any(isinstance(t, pa.BaseExtensionType) for t in batch.schema.types):
        return batch
    columns = [c.storage if isinstance(c, pa.ExtensionArray) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _jsonable(value: pa.Scalar) -> Any:
    """An offset must be JSON: numbers stay numbers, times become ISO text."""
    v = value.as_py()
    if v is None or isinstance(v, int | float | str):
        return v
    return v.isoformat() if hasattr(v, "isoformat") else str(v)
