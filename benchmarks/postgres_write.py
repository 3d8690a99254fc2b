"""Rows/s of postgres_write (insert mode, Arrow batches -> CSV -> COPY) against a plain psycopg
COPY of the same rows, written row by row with `copy.write_row`.

Run: .venv/bin/python benchmarks/postgres_write.py [--rows N] [--batch-size N] [--dsn URL]
Needs a PostgreSQL server; works in a scratch schema that it drops at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from dataflow.processor import Context
from dataflow_processors.postgres_write import PostgresWrite


def make_batches(rows: int, batch_size: int) -> list[pa.RecordBatch]:
    """Orders: int64 id, float amount, short status text, UTC timestamp, a longer note."""
    ids = pa.array(range(rows), pa.int64())
    start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    table = pa.table(
        {
            "order_id": ids,
            "amount": pc.divide(pc.cast(pc.multiply(ids, 37), pa.float64()), 100.0),
            "status": pc.take(pa.array(["paid", "open", "refunded"]), pc.bit_wise_and(ids, 1)),
            "at": pc.cast(pc.add(ids, start), pa.timestamp("us", tz="UTC")),
            "note": pc.binary_join_element_wise("customer note #", pc.cast(ids, pa.string()), ""),
        }
    )
    return table.to_batches(max_chunksize=batch_size)


async def run_processor(dsn: str, table: str, batches: list[pa.RecordBatch]) -> float:
    config = PostgresWrite.parse_config({"dsn": dsn, "table": table, "create_table": True})
    sink = PostgresWrite(config, Context(node_id="bench"))
    started = time.perf_counter()
    await sink.open()
    for batch in batches:
        await sink.write_async(batch)
    await sink.flush_async()
    await sink.close()
    return time.perf_counter() - started


def run_plain(conn: psycopg.Connection, table: str, rows: list[tuple]) -> float:
    schema, name = table.split(".")
    target = sql.Identifier(schema, name)
    conn.execute(
        sql.SQL("CREATE TABLE {} (LIKE {})").format(target, sql.Identifier(schema, "processor"))
    )
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        query = sql.SQL("COPY {} (order_id, amount, status, at, note) FROM STDIN").format(target)
        with cur.copy(query) as copy:
            for row in rows:
                copy.write_row(row)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=65_536)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    batches = make_batches(args.rows, args.batch_size)
    # The plain script gets its rows as Python tuples for free: only the COPY is timed.
    rows = [tuple(r.values()) for b in batches for r in b.to_pylist()]
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            processor = asyncio.run(run_processor(args.dsn, f"{schema}.processor", batches))
            plain = run_plain(conn, f"{schema}.plain", rows)
            for name in ("processor", "plain"):
                count = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
                ).fetchone()[0]
                assert count == args.rows, f"{name}: {count} rows"
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))

    print(f"{args.rows:,} rows in batches of {args.batch_size:,}")
    for label, seconds in (
        ("postgres_write (Arrow CSV + COPY)", processor),
        ("plain psycopg COPY, write_row", plain),
    ):
        print(f"{label:<34} {seconds:6.2f} s {args.rows / seconds:>12,.0f} rows/s")


if __name__ == "__main__":
    main()
