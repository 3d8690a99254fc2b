"""Data preview: the most recent records of an edge, kept as batch slices, queried on demand."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import duckdb
import msgspec
import pyarrow as pa

from dataflow.sandbox import sandboxed_duckdb


class SampleColumn(msgspec.Struct, frozen=True):
    name: str
    type: str


class SampleResult(msgspec.Struct, kw_only=True):
    columns: list[SampleColumn]
    rows: list[dict[str, Any]]


class SampleRing:
    """Up to `size` most recent records of an edge.

    Holds references to the last few batches (zero-copy slices: a batch's buffers stay
    alive while it is in the ring); rows are converted to Python only when asked for.
    """

    def __init__(self, size: int):
        self.size = size
        self._batches: deque[pa.RecordBatch] = deque()
        self._rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        size = self.size
        if size <= 0:
            return
        rows = batch.num_rows
        if rows >= size:
            self._batches.clear()
            self._batches.append(batch.slice(rows - size) if rows > size else batch)
            self._rows = size
            return
        self._batches.append(batch)
        self._rows += rows
        while self._rows - self._batches[0].num_rows >= size:
            self._rows -= self._batches.popleft().num_rows

    def table(self) -> pa.Table:
        """The sampled records (at most `size`), oldest first."""
        batches = list(self._batches)
        if not batches:
            return pa.table({})
        try:
            table = pa.concat_tables(
                [pa.Table.from_batches([b]) for b in batches], promote_options="permissive"
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Incompatible schemas on one edge: show the records of the latest schema.
            schema = batches[-1].schema
            table = pa.Table.from_batches([b for b in batches if b.schema.equals(schema)])
        return table.slice(max(table.num_rows - self.size, 0))

    def query(
        self, limit: int = 100, where: str | None = None, timeout: float | None = None
    ) -> SampleResult:
        """The `limit` most recent sampled records for which the DuckDB boolean `where` holds.

        Safe to call from a worker thread while the run goes on: it works on a copy of the
        ring's batch list."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        table = self.table()
        # Nothing sampled yet has no columns to check the condition against.
        if where is not None and where.strip() and table.num_columns:
            table = _where(table, where, timeout)
        table = table.slice(max(table.num_rows - limit, 0))
        return SampleResult(
            columns=[SampleColumn(f.name, str(f.type)) for f in table.schema],
            rows=table.to_pylist(),
        )


def _where(table: pa.Table, where: str, timeout: float | None = None) -> pa.Table:
    # The expression comes from an HTTP client: no file, network or extension access, and
    # interrupted after `timeout` seconds (a cross join of the sample with itself, say).
    con = sandboxed_duckdb(threads=1)
    timer = threading.Timer(timeout, con.interrupt) if timeout is not None else None
    try:
        con.register("sample", table)
        if timer is not None:
            timer.start()
        return con.sql(f"SELECT * FROM sample WHERE ({where})").to_arrow_table()
    except duckdb.InterruptException as exc:
        raise ValueError(
            f"invalid where condition {where!r}: it ran longer than {timeout:g} s"
        ) from exc
    except duckdb.Error as exc:
        reason = str(exc).splitlines()[0]
        columns = ", ".join(table.schema.names) or "none"
        raise ValueError(
            f"invalid where condition {where!r}: {reason} (sampled columns: {columns})"
        ) from exc
    finally:
        if timer is not None:
            timer.cancel()
        con.close()
