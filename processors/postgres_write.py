"""Write batches to a PostgreSQL table with COPY, one transaction per batch: insert or upsert."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql

from dataflow.processor import ProcessorSpec, SchemaError, Sink, ui
from dataflow_processors._sql import query
from dataflow_processors.postgres_query import PostgresConnection, reason

_PG_TYPES = {
    pa.bool_(): "boolean",
    pa.int8(): "smallint",
    pa.int16(): "smallint",
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.uint8(): "smallint",
    pa.uint16(): "integer",
    pa.uint32(): "bigint",
    pa.uint64(): "numeric(20)",
    pa.float16(): "real",
    pa.float32(): "real",
    pa.float64(): "double precision",
    pa.string(): "text",
    pa.large_string(): "text",
    pa.string_view(): "text",
    pa.binary(): "bytea",
    pa.large_binary(): "bytea",
    pa.date32(): "date",
    pa.date64(): "date",
    pa.null(): "text",
}

# Upsert stages the batch in a temporary table numbered in copy order; DISTINCT ON keeps the
# last row of each key, as ON CONFLICT cannot update one row twice in a statement.
_STAGE = sql.SQL(
    "CREATE TEMP TABLE dataflow_upsert ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA;"
    " ALTER TABLE dataflow_upsert ADD COLUMN dataflow_seq bigint GENERATED ALWAYS AS IDENTITY"
)
_MERGE = sql.SQL(
    "INSERT INTO {table} ({cols}) SELECT DISTINCT ON ({keys}) {cols} FROM dataflow_upsert"
    " ORDER BY {keys}, dataflow_seq DESC ON CONFLICT ({keys}) DO {action}"
)


def pg_type(field: pa.Field) -> str:
    """The PostgreSQL column type for an Arrow field (create_table)."""
    t = field.type
    if pa.types.is_dictionary(t):
        return pg_type(pa.field(field.name, t.value_type))
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_decimal(t):
        return f"numeric({t.precision},{t.scale})"
    if pa.types.is_nested(t):
        return "jsonb"
    if t in _PG_TYPES:
        return _PG_TYPES[t]
    raise ValueError(f"column {field.name!r}: no PostgreSQL type for Arrow type {t}")


class PostgresWriteConfig(PostgresConnection, kw_only=True):
    """Loads each batch in one transaction with COPY: Arrow writes the whole batch as CSV and
    PostgreSQL parses it, with no Python per row.

    insert appends. upsert copies into a temporary table, then runs INSERT ... ON CONFLICT
    (key_columns) DO UPDATE of the other columns (the table needs a primary key or unique index
    on them); when a batch holds a key twice, its last row wins. Columns match by name: those
    the batch lacks get their default, a batch column the table lacks is an error naming both.
    create_table maps Arrow types to smallint/integer/bigint, real/double precision, numeric,
    text, bytea, boolean, date, time, timestamp/timestamptz, and jsonb for lists and structs.

    Delivery: a batch is committed whole or not at all, and acknowledged once committed; a
    batch replayed after a failure is inserted again (at-least-once), while upsert is
    idempotent. A lost connection fails the batch with an error naming the server; with
    `on_error: retry` the next attempt reconnects.
    """

    table: Annotated[
        str,
        ui(
            "Table",
            "Table name, optionally schema-qualified (names are case-sensitive).",
            placeholder="public.orders",
            pattern=r"^[^.]+(\.[^.]+)?$",
        ),
    ]
    mode: Annotated[
        Literal["insert", "upsert"],
        ui("Mode", "insert: append rows; upsert: insert, or update the row with the same keys."),
    ] = "insert"
    key_columns: Annotated[
        list[str],
        ui("Key columns", "The unique key upsert matches on (a primary key or unique index)."),
    ] = []
    create_table: Annotated[
        bool,
        ui(
            "Create table",
            "Create the table from the first batch's schema when missing "
            "(upsert: with key_columns as primary key).",
        ),
    ] = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode == "upsert" and not self.key_columns:
            raise ValueError("key_columns: upsert needs at least one key column")


class PostgresWrite(Sink[PostgresWriteConfig]):
    spec = ProcessorSpec(
        name="postgres_write",
        category="sink",
        status="beta",
        icon="database",
        title="PostgreSQL write",
        summary="Bulk-load batches into a PostgreSQL table (insert or upsert).",
        inputs=("in",),
        examples=[
            {
                "dsn": "postgresql://app@db:5432/shop",
                "table": "public.orders",
                "create_table": True,
            },
            {
                "dsn": "postgresql://app@db:5432/shop",
                "table": "customers",
                "mode": "upsert",
                "key_columns": ["customer_id"],
            },
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.conn: psycopg.Connection | None = None
        self.table = sql.Identifier(*self.config.table.split("."))
        self.columns: list[str] | None = None  # the table's, once known

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema]:
        schema = inputs.get("in")
        missing = [k for k in self.config.key_columns if schema and k not in schema.names]
        if missing:
            raise SchemaError(
                f"key column {missing[0]!r} is not in the input "
                f"(upstream columns: {', '.join(schema.names)})",
                field="key_columns",
            )
        return {}

    async def open(self) -> None:
        self.conn = await asyncio.to_thread(self._connect)  # a wrong URL fails the start

    async def close(self) -> None:
        if self.conn is not None:
            await asyncio.to_thread(self.conn.close)

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        if self.conn is None or self.conn.closed:
            self.conn = self._connect()  # after a lost connection: the engine's retry lands here
        try:
            # The batch's one transaction: a later step may write the checkpoint id in it too.
            with self.conn.transaction(), self.conn.cursor() as cur:
                self._load(cur, batch)
        except psycopg.OperationalError as exc:
            if not self.conn.closed:
                raise
            raise ConnectionError(
                f"lost PostgreSQL at {self.config.server}: {reason(exc)}"
            ) from exc
        except psycopg.Error:
            self.columns = None  # the table may have changed under us: look again next time
            raise

    def _load(self, cur: psycopg.Cursor, batch: pa.RecordBatch) -> None:
        cfg, names = self.config, batch.schema.names
        if self.columns is None:
            self.columns = self._table_columns(cur, batch.schema)
        unknown = [n for n in names if n not in self.columns]
        if unknown:
            raise ValueError(
                f"column(s) {', '.join(unknown)} not in table {cfg.table} "
                f"(table columns: {', '.join(self.columns)})"
            )
        cols = sql.SQL(", ").join(map(sql.Identifier, names))
        if cfg.mode == "insert":
            self._copy(cur, self.table, cols, batch)
            return
        missing = [k for k in cfg.key_columns if k not in names]
        if missing:
            raise ValueError(f"key column(s) {', '.join(missing)} not in the batch")
        cur.execute(_STAGE.format(cols=cols, table=self.table))
        self._copy(cur, sql.Identifier("dataflow_upsert"), cols, batch)
        updates = [
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n))
            for n in names
            if n not in cfg.key_columns
        ]
        action = sql.SQL("UPDATE SET {}").format(sql.SQL(", ").join(updates))
        cur.execute(
            _MERGE.format(
                table=self.table,
                cols=cols,
                keys=sql.SQL(", ").join(map(sql.Identifier, cfg.key_columns)),
                action=action if updates else sql.SQL("NOTHING"),
            )
        )

    def _copy(
        self,
        cur: psycopg.Cursor,
        table: sql.Composable,
        cols: sql.Composable,
        batch: pa.RecordBatch,
    ) -> None:
        data = _csv(batch)
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(table, cols)
        with cur.copy(copy_sql) as copy:
            copy.write(memoryview(data))

    def _table_columns(self, cur: psycopg.Cursor, schema: pa.Schema) -> list[str]:
        cfg = self.config
        find = (
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s)"
            " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        )
        name = self.table.as_string(cur)
        columns = [row[0] for row in cur.execute(find, (name,))]
        if columns:
            return columns
        if not cfg.create_table:
            raise ValueError(
                f"table {cfg.table} does not exist (turn on create_table to create it)"
            )
        defs = [
            sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(pg_type(f))) for f in schema
        ]
        if cfg.mode == "upsert":
            keys = sql.SQL(", ").join(map(sql.Identifier, cfg.key_columns))
            defs.append(sql.SQL("PRIMARY KEY ({})").format(keys))
        cur.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                self.table, sql.SQL(", ").join(defs)
            )
        )
        return [row[0] for row in cur.execute(find, (name,))]

    def _connect(self) -> psycopg.Connection:
        try:
            # autocommit: transactions are explicit, one per batch.
            conn = psycopg.connect(self.config.conninfo(), autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise ConnectionError(
                f"cannot connect to PostgreSQL at {self.config.server}: {reason(exc)}"
            ) from exc
        conn.execute("SET TIME ZONE 'UTC'")  # naive times in the CSV are UTC: see _csv
        return conn


def _csv(batch: pa.RecordBatch) -> pa.Buffer:
    """The batch as PostgreSQL CSV: Arrow quotes every string, so "" is an empty string and
    an unquoted empty field NULL, exactly as COPY reads them."""
    for i, f in enumerate(batch.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz:
            # Arrow writes zoned times ten times slower than plain ones; the session runs in
            # UTC, so the UTC wall time reads back as the same instant.
            batch = batch.set_column(i, f.name, batch.column(i).cast(pa.timestamp(f.type.unit)))
    # Arrow's CSV writer has no form for nested or binary values: JSON text for jsonb
    # and \x-hex for bytea, both made by DuckDB in one vectorised pass.
    exprs, convert = [], False
    for f in batch.schema:
        name = '"' + f.name.replace('"', '""') + '"'
        if pa.types.is_nested(f.type):
            exprs.append(f"to_json({name})::VARCHAR AS {name}")
        elif pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type):
            exprs.append(f"'\\x' || hex({name}) AS {name}")
        else:
            exprs.append(name)
            continue
        convert = True
    if convert:
        batch = query(f"SELECT {', '.join(exprs)} FROM input", batch)
    out = pa.BufferOutputStream()
    pa_csv.write_csv(batch, out, pa_csv.WriteOptions(include_header=False, batch_size=65_536))
    return out.getvalue()
