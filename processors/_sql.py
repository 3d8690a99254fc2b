"""DuckDB over Arrow batches: one connection per worker thread, zero-copy scans."""

from __future__ import annotations

import re
import threading

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import SchemaError
from dataflow.sandbox import sandboxed_duckdb

_local = threading.local()
_database: duckdb.DuckDBPyConnection | None = None
_database_lock = threading.Lock()
_MISSING_COLUMN = re.compile(r'Referenced column "([^"]+)" not found')


def connection() -> duckdb.DuckDBPyConnection:
    """This thread's connection to the process's one in-memory DuckDB database."""
    # A connection is not safe to share between threads, so each worker thread keeps its
    # own; they are cursors on one database because opening a database costs 25-50 ms and
    # memory of its own, paid again by every worker thread a node's calls land on.
    # One thread per query (threads=1): the parallelism comes from the flow's nodes.
    con = getattr(_local, "con", None)
    if con is None:
        global _database
        with _database_lock:
            if _database is None:
                # Queries are the user's: no files, network or extensions (dataflow.sandbox).
                _database = sandboxed_duckdb(threads=1)
            con = _local.con = _database.cursor()
    return con


def query(sql: str, batch: pa.RecordBatch | pa.Table, name: str = "input") -> pa.Table:
    """Run `sql` with the batch visible as table `name`; returns an Arrow table."""
    con = connection()
    con.register(name, batch)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.unregister(name)


def evaluate_mask(condition: str, batch: pa.RecordBatch) -> pa.Array:
    """A boolean mask, nulls counted as false, from one vectorised DuckDB call."""
    table = query(f"SELECT ({condition})::BOOLEAN AS m FROM input", batch)
    mask = table.column(0).combine_chunks() if table.num_rows else pa.array([], pa.bool_())
    return pc.fill_null(mask, False)


def describe_sql_error(exc: Exception, schema: pa.Schema) -> str:
    text = str(exc)
    found = _MISSING_COLUMN.search(text)
    if found:
        return (
            f'column "{found.group(1)}" does not exist '
            f"(upstream columns: {', '.join(schema.names) or 'none'})"
        )
    # DuckDB prefixes "Binder Error: " etc. and appends a LINE pointer; keep the first line.
    return text.splitlines()[0]


def bind_check(sql: str, schema: pa.Schema, field: str) -> pa.Schema:
    """Plan `sql` against an empty table of `schema`: the schema it yields, or SchemaError."""
    try:
        return query(sql + " LIMIT 0", schema.empty_table()).schema
    except duckdb.Error as exc:
        raise SchemaError(describe_sql_error(exc, schema), field=field) from exc
