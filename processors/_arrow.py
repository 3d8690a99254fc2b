"""Small Arrow and SQL helpers the stream processors share."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

MICROS = 1_000_000


def quote(name: str) -> str:
    """A column name as a SQL identifier (DuckDB)."""
    return '"' + name.replace('"', '""') + '"'


def row_numbers(n: int) -> pa.Array:
    """0, 1, ..., n-1 as int64."""
    return pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), n)), 1)


def event_micros(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Event times as int64 microseconds since the epoch (timestamps, or epoch seconds)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_timestamp(column.type):
        return pc.cast(column, pa.timestamp("us", column.type.tz), safe=False).view(pa.int64())
    seconds = pc.multiply(pc.cast(column, pa.float64()), float(MICROS))
    return pc.cast(pc.round(seconds), pa.int64())
