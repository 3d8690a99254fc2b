"""Append batches to a table in a DuckDB database file, inserted straight from Arrow."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import duckdb
import pyarrow as pa

from dataflow.processor import ProcessorConfig, ProcessorSpec, Sink, ui


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class DuckdbWriteConfig(ProcessorConfig, kw_only=True):
    """Appends every batch to `table` with one INSERT that scans the Arrow batch in place
    (no copy through Python). Columns match by name; columns the batch lacks get their
    default. With create_table the table (and its schema) is made from the first batch's
    Arrow schema. The database file stays open, and locked, while the flow runs.

    Delivery: each batch is one committed statement when write returns; a batch replayed
    after a failure is appended again (at-least-once).
    """

    database: Annotated[
        str,
        ui(
            "Database",
            "Path of the DuckDB database file (created if missing).",
            placeholder="data/warehouse.duckdb",
            min_length=1,
        ),
    ]
    table: Annotated[
        str,
        ui(
            "Table",
            "Table name, optionally schema-qualified.",
            placeholder="main.orders",
            pattern=r"^[^.]+(\.[^.]+)?$",
        ),
    ]
    create_table: Annotated[
        bool, ui("Create table", "Create the table (and schema) from the first batch's schema.")
    ] = True


class DuckdbWrite(Sink[DuckdbWriteConfig]):
    spec = ProcessorSpec(
        name="duckdb_write",
        category="sink",
        status="beta",
        icon="database",
        title="DuckDB write",
        summary="Append batches to a DuckDB table, zero-copy from Arrow.",
        inputs=("in",),
        examples=[{"database": "warehouse.duckdb", "table": "orders"}],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.con: duckdb.DuckDBPyConnection | None = None
        self.parts = self.config.table.split(".")
        self.table = ".".join(map(_quote, self.parts))
        self.columns: list[str] | None = None  # the table's, once known

    def confine(self) -> None:
        self.allowed_path(self.config.database, "database")

    async def open(self) -> None:
        path = self.context.reach.path(self.config.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.con = await asyncio.to_thread(duckdb.connect, str(path))

    async def close(self) -> None:
        if self.con is not None:
            await asyncio.to_thread(self.con.close)  # checkpoints the WAL into the file

    def write(self, batch: pa.RecordBatch) -> None:
        # The engine calls write once at a time, so one connection serves every worker thread.
        con, cfg = self.con, self.config
        if con is None:
            raise RuntimeError(f"duckdb_write: write() before open() ({cfg.database})")
        con.register("dataflow_batch", batch)
        try:
            if self.columns is None:
                self.columns = self._table_columns(con)
            unknown = [n for n in batch.schema.names if n not in self.columns]
            if unknown:
                raise ValueError(
                    f"column(s) {', '.join(unknown)} not in table {cfg.table} "
                    f"(table columns: {', '.join(self.columns)})"
                )
            con.execute(f"INSERT INTO {self.table} BY NAME SELECT * FROM dataflow_batch")
        finally:
            con.unregister("dataflow_batch")

    def _table_columns(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        try:
            return [row[0] for row in con.execute(f"DESCRIBE {self.table}").fetchall()]
        except duckdb.CatalogException:
            if not self.config.create_table:
                raise ValueError(
                    f"table {self.config.table} does not exist (turn on create_table to create it)"
                ) from None
        if len(self.parts) == 2:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(self.parts[0])}")
        con.execute(f"CREATE TABLE {self.table} AS SELECT * FROM dataflow_batch LIMIT 0")
        return [row[0] for row in con.execute(f"DESCRIBE {self.table}").fetchall()]
