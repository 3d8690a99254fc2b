"""Write batches to a PostgreSQL table with COPY, one transaction per batch: insert or upsert;
exactly once through a staging table moved into place when a checkpoint commits."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
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
    "INSERT INTO {table} ({cols}) SELECT DISTINCT ON ({keys}) {cols} FROM {source}"
    " WHERE {where} ORDER BY {keys}, dataflow_seq DESC ON CONFLICT ({keys}) DO {action}"
)


#: Exactly once: staged rows carry the sink (flow/node/run), the last checkpoint prepared
#: before they were written, and their column list; the session sets them per batch, so
#: COPY sends only the batch's own columns. The identity keeps arrival order (upsert: the
#: last row of a key wins, across batches too).
_STAGING_COLUMNS = sql.SQL(
    "ALTER TABLE {staging}"
    " ADD COLUMN dataflow_sink text NOT NULL"
    " DEFAULT current_setting('dataflow.sink', true),"
    " ADD COLUMN dataflow_after bigint NOT NULL"
    " DEFAULT current_setting('dataflow.after', true)::bigint,"
    " ADD COLUMN dataflow_columns text NOT NULL"
    " DEFAULT current_setting('dataflow.columns', true),"
    " ADD COLUMN dataflow_seq bigint GENERATED ALWAYS AS IDENTITY"
)
_PROGRESS = sql.SQL(
    "CREATE TABLE IF NOT EXISTS {progress} (sink_key text PRIMARY KEY,"
    " committed_checkpoint bigint NOT NULL, committed_at timestamptz NOT NULL DEFAULT now())"
)


def _name(base: str, suffix: str) -> str:
    """`base + suffix` within PostgreSQL's 63 bytes: a long base is cut and made unique by a
    hash (PostgreSQL would cut it silently, and two long names could meet)."""
    name = base + suffix
    if len(name.encode()) <= 63:
        return name
    digest = hashlib.sha1(base.encode()).hexdigest()[:8]
    cut = base.encode()[: 63 - len(suffix.encode()) - 9].decode(errors="ignore")
    return f"{cut}_{digest}{suffix}"


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

    Delivery at_least_once (the default): a batch is committed whole or not at all, and
    acknowledged once committed; a batch replayed after a failure is inserted again, while
    upsert is idempotent. A lost connection fails the batch with an error naming the server;
    with `on_error: retry` the next attempt reconnects.

    Delivery exactly_once: each batch is copied, in its own transaction, into the staging
    table `TABLE__dataflow_staging` beside the table (created on first use; rows tagged with
    the flow, node and run), and nothing shows in the table yet. When a checkpoint commits,
    one transaction moves its rows into the table (insert or upsert as above, in arrival
    order) and records the checkpoint in `dataflow_sink_progress` (same schema), so a commit
    done twice is skipped. A restarted run first commits the rows of its last committed
    checkpoint if that was not done yet and deletes the rows staged after it, which it then
    writes again. A constraint the rows break (a duplicate key in insert mode) shows at the
    commit, failing the run with the rows kept in staging.
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

    exactly_once = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.conn: psycopg.Connection | None = None
        *schema, table = self.config.table.split(".")
        self.table = sql.Identifier(*schema, table)
        self.columns: list[str] | None = None  # the table's, once known
        # Exactly once: the staging table and progress table, beside the table.
        self.staging = sql.Identifier(*schema, _name(table, "__dataflow_staging"))
        self.staging_index = sql.Identifier(_name(table, "__dataflow_staging_sink"))
        self.progress = sql.Identifier(*schema, "dataflow_sink_progress")
        # Checked (created, columns added) on this connection:
        self.staging_ready = self.progress_ready = False
        ctx = self.context
        self.sink_key = f"{ctx.flow_id or '-'}/{ctx.node_id}/{ctx.run_id or '-'}"
        #: The last checkpoint prepared (or, after a restart, committed) before the rows being
        #: written now: commit_checkpoint(N) publishes the rows staged after a checkpoint < N.
        self.after = 0
        # commit_checkpoint may be called beside a write: one connection, one at a time.
        self._lock = threading.Lock()

    @property
    def two_phase(self) -> bool:
        return self.context.delivery == "exactly_once"

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema]:
        schema = inputs.get("in")
        if not schema:  # not known yet (or no columns): nothing to check against
            return {}
        missing = [k for k in self.config.key_columns if k not in schema.names]
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
        # The batch's one transaction: into the table, or (exactly once) into staging.
        with self._lock, self._session() as conn, conn.transaction(), conn.cursor() as cur:
            self._load(cur, batch)

    @contextlib.contextmanager
    def _session(self) -> Iterator[psycopg.Connection]:
        """The connection (reconnecting after a loss: the engine's retry lands here), with
        its errors made clear."""
        if self.conn is None or self.conn.closed:
            self.conn = self._connect()
        try:
            yield self.conn
        except psycopg.Error as exc:
            # The tables may have changed under us: look again next time.
            self.columns, self.staging_ready, self.progress_ready = None, False, False
            if isinstance(exc, psycopg.OperationalError) and self.conn.closed:
                raise ConnectionError(
                    f"lost PostgreSQL at {self.config.server}: {reason(exc)}"
                ) from exc
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
        missing = [k for k in cfg.key_columns if k not in names]
        if cfg.mode == "upsert" and missing:
            raise ValueError(f"key column(s) {', '.join(missing)} not in the batch")
        cols = sql.SQL(", ").join(map(sql.Identifier, names))
        if self.two_phase:
            self._prepare_staging(cur)
            cur.execute(
                "SELECT set_config('dataflow.sink', %s, true),"
                " set_config('dataflow.after', %s, true), set_config('dataflow.columns', %s, true)",
                (self.sink_key, str(self.after), json.dumps(names)),
            )
            self._copy(cur, self.staging, cols, batch)
            return
        if cfg.mode == "insert":
            self._copy(cur, self.table, cols, batch)
            return
        cur.execute(_STAGE.format(cols=cols, table=self.table))
        self._copy(cur, sql.Identifier("dataflow_upsert"), cols, batch)
        cur.execute(self._merge(names, sql.Identifier("dataflow_upsert"), sql.SQL("TRUE")))

    def _merge(
        self, names: list[str], source: sql.Composable, where: sql.Composable
    ) -> sql.Composed:
        """INSERT INTO the table the rows of `source` that match `where`: appended in arrival
        order (insert), or the last row of each key inserted or updating (upsert)."""
        cfg = self.config
        cols = sql.SQL(", ").join(map(sql.Identifier, names))
        if cfg.mode == "insert":
            return sql.SQL(
                "INSERT INTO {table} ({cols}) SELECT {cols} FROM {source} WHERE {where}"
                " ORDER BY dataflow_seq"
            ).format(table=self.table, cols=cols, source=source, where=where)
        updates = [
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n))
            for n in names
            if n not in cfg.key_columns
        ]
        action = sql.SQL("UPDATE SET {}").format(sql.SQL(", ").join(updates))
        return _MERGE.format(
            table=self.table,
            cols=cols,
            source=source,
            where=where,
            keys=sql.SQL(", ").join(map(sql.Identifier, cfg.key_columns)),
            action=action if updates else sql.SQL("NOTHING"),
        )

    # -- two-phase commit (delivery exactly_once) -------------------------------------------
    def prepare_checkpoint(self, checkpoint_id: int) -> None:
        # Every batch before the barrier is committed in staging already (one transaction
        # each): durable and not visible. The rows from here on belong to a later checkpoint.
        self.after = checkpoint_id

    def commit_checkpoint(self, checkpoint_id: int) -> None:
        if not self.two_phase:
            return
        with self._lock, self._session() as conn:
            self._publish_up_to(conn, checkpoint_id)

    def recover(self, committed_checkpoint_id: int | None) -> None:
        if not self.two_phase:
            return
        self.after = committed_checkpoint_id or 0
        with self._lock, self._session() as conn:
            if not self._staging_exists(conn):
                return  # nothing was ever staged here
            if committed_checkpoint_id is not None:
                self._publish_up_to(conn, committed_checkpoint_id)
            # What is left was staged after the committed checkpoint: the run replays it.
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE dataflow_sink = %s").format(self.staging),
                (self.sink_key,),
            )

    def _staging_exists(self, conn: psycopg.Connection | psycopg.Cursor) -> bool:
        name = self.staging.as_string(conn)
        found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
        return bool(found and found[0])

    def _publish_up_to(self, conn: psycopg.Connection, checkpoint_id: int) -> None:
        """One transaction: move the rows of every checkpoint up to `checkpoint_id` into the
        table and record it; skipped when the progress table says it was done already."""
        with conn.transaction(), conn.cursor() as cur:
            if not self.progress_ready:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext('dataflow_sink_progress'))")
                cur.execute(_PROGRESS.format(progress=self.progress))
                self.progress_ready = True
            done = cur.execute(
                sql.SQL(
                    "SELECT committed_checkpoint FROM {} WHERE sink_key = %s FOR UPDATE"
                ).format(self.progress),
                (self.sink_key,),
            ).fetchone()
            if done is not None and done[0] >= checkpoint_id:
                return
            if self._staging_exists(cur):
                where = sql.SQL("dataflow_sink = {} AND dataflow_after < {}").format(
                    sql.Literal(self.sink_key), sql.Literal(checkpoint_id)
                )
                # One statement per column list (usually one), in order of first arrival.
                lists = cur.execute(
                    sql.SQL(
                        "SELECT dataflow_columns FROM {} WHERE {} GROUP BY dataflow_columns"
                        " ORDER BY min(dataflow_seq)"
                    ).format(self.staging, where)
                ).fetchall()
                for (names,) in lists:
                    subset = sql.SQL("{} AND dataflow_columns = {}").format(
                        where, sql.Literal(names)
                    )
                    cur.execute(self._merge(json.loads(names), self.staging, subset))
                cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(self.staging, where))
            cur.execute(
                sql.SQL(
                    "INSERT INTO {} (sink_key, committed_checkpoint) VALUES (%s, %s)"
                    " ON CONFLICT (sink_key) DO UPDATE SET committed_checkpoint ="
                    " EXCLUDED.committed_checkpoint, committed_at = now()"
                ).format(self.progress),
                (self.sink_key, checkpoint_id),
            )

    def _prepare_staging(self, cur: psycopg.Cursor) -> None:
        """The staging table: the table's columns (without its constraints, so a column the
        batch lacks can wait for its default) plus the bookkeeping ones; created, or given
        the table's new columns, once per connection."""
        if self.staging_ready:
            return
        # Two sinks on one table would otherwise race to create the same staging table.
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.staging.as_string(cur),))
        if not self._staging_exists(cur):
            cur.execute(
                sql.SQL("CREATE TABLE {} AS SELECT * FROM {} WITH NO DATA").format(
                    self.staging, self.table
                )
            )
            cur.execute(_STAGING_COLUMNS.format(staging=self.staging))
            cur.execute(
                sql.SQL("CREATE INDEX {} ON {} (dataflow_sink, dataflow_after)").format(
                    self.staging_index, self.staging
                )
            )
        # Columns added to the table since (ALTER only then: it locks out the other writers).
        added = cur.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped"
            " AND attname NOT IN (SELECT attname FROM pg_attribute"
            "  WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped)",
            (self.table.as_string(cur), self.staging.as_string(cur)),
        ).fetchall()
        for name, pg in added:
            cur.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                    self.staging, sql.Identifier(name), sql.SQL(pg)
                )
            )
        self.staging_ready = True

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
        self.staging_ready = self.progress_ready = False
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
