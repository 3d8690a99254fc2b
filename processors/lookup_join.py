"""Enrich records from a reference table: a CSV/Parquet file, a PostgreSQL query or Redis hashes."""

from __future__ import annotations

import asyncio
import re
import string
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import adbc_driver_postgresql.dbapi as adbc_pg
import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.parquet
import redis

from dataflow.processor import (
    ProcessorConfig,
    ProcessorSpec,
    SchemaError,
    Transform,
    TransformConfig,
    ui,
)
from dataflow_processors._arrow import quote, row_numbers
from dataflow_processors._fields import (
    PostgresDsn,
    RedisUrl,
    check_dsn,
    check_redis_url,
    postgres_conninfo,
    postgres_server,
)
from dataflow_processors._sql import connection

# Driver prefixes before the reason: "IO: [libpq] Failed to connect: ... failed: ".
_NOISE = re.compile(r"^[A-Z_]+: |\[libpq\] |Failed to [a-z ]+: |.* failed: |(?:ERROR|FATAL):\s+")


def template_columns(template: str) -> list[str]:
    """The columns a key template names: `customer:{customer_id}` -> [customer_id]."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:  # unbalanced braces
        raise ValueError(f"key: {exc} in {template!r} ({{{{ and }}}} are literal braces)") from None
    columns = []
    for _, column, spec, conversion in parsed:
        if column is not None:
            if not column or spec or conversion:
                raise ValueError(
                    f"key: placeholders are plain column names like {{id}}: {template!r}"
                )
            columns.append(column)
    return columns


def template_sql(template: str) -> str:
    """SQL building each row's key; NULL when a column in it is null."""
    parts = []
    for literal, column, _, _ in string.Formatter().parse(template):
        if literal:
            parts.append("'" + literal.replace("'", "''") + "'")
        if column is not None:
            parts.append(f"CAST({quote(column)} AS VARCHAR)")
    return " || ".join(parts) or "''"


class LookupReference(msgspec.Struct, tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    """Where the reference data lives: one subclass per kind."""


class LookupFile(LookupReference, tag="file", kw_only=True):
    """A CSV or Parquet file, read whole."""

    path: Annotated[
        str, ui("File", "CSV or Parquet file.", placeholder="data/customers.csv", min_length=1)
    ]
    format: Annotated[
        Literal["auto", "csv", "parquet"],
        ui("Format", "File format; auto: by extension (.parquet, .pq: Parquet; else CSV)."),
    ] = "auto"


class LookupPostgres(LookupReference, tag="postgres", kw_only=True):
    """The rows of a PostgreSQL query, read through ADBC."""

    dsn: PostgresDsn
    query: Annotated[
        str,
        ui(
            "Query",
            "SELECT giving the reference rows.",
            widget="sql",
            placeholder="SELECT id, name, tier FROM customers",
            min_length=1,
        ),
    ]

    def __post_init__(self) -> None:
        check_dsn(self.dsn)


class LookupRedis(LookupReference, tag="redis", kw_only=True):
    """One Redis hash per record, named by a key template."""

    url: RedisUrl
    key: Annotated[
        str,
        ui(
            "Key template",
            "Redis hash of each record: {column} takes the record's value.",
            placeholder="customer:{customer_id}",
            min_length=1,
        ),
    ]
    cache_size: Annotated[
        int, ui("Cache size", "Keys kept in the LRU cache; 0: no cache.", ge=0)
    ] = 100_000

    def __post_init__(self) -> None:
        if not template_columns(self.key):
            raise ValueError("key: the template names no column, e.g. customer:{id}")
        check_redis_url(self.url)


Reference = LookupFile | LookupPostgres | LookupRedis


class LookupJoinConfig(TransformConfig, kw_only=True):
    """Adds to each record the columns of the reference row whose `lookup_key_columns` equal
    the record's `key_columns` (a left join, one DuckDB query per batch). Records without a
    reference row go to `unmatched` as they came (`unmatched: route`), or go on with nulls
    (`keep`).

    `reference` says where the reference data lives, by `kind`. `file`: a CSV or Parquet
    file read whole; `postgres`: the rows of `query` (read through ADBC); both are loaded
    when the run starts and again every `refresh_seconds` (0: once). When a key appears in
    several reference rows, the first wins and a warning counts the others. A refresh that
    fails keeps the previous table and is tried again at the next batch, with a warning.

    `redis`: one hash per record, found from the `key` template (`customer:{customer_id}`),
    which names the record's key columns (leave `key_columns` empty); each batch reads the
    hashes of its distinct keys in one pipelined round trip, through an LRU cache of
    `cache_size` keys whose entries expire after `refresh_seconds` (0: never). Hash fields
    arrive as strings; a missing key or an empty hash is unmatched. List the fields in
    `columns` to get the same columns in every batch.

    The cache and the table are not checkpointed: a restarted run reads them again.
    """

    reference: Annotated[Reference, ui("Reference", "Where the reference data lives.")]
    # A secret field must be a top-level one (the validator and the catalog look there).
    password: Annotated[
        str | None,
        ui("Password", "PostgreSQL or Redis password, kept out of the URL.", secret=True),
    ] = None
    key_columns: Annotated[
        list[str],
        ui("Key columns", "Record columns to match (file, postgres; redis: from the key)."),
    ] = []
    lookup_key_columns: Annotated[
        list[str] | None,
        ui("Lookup key columns", "Reference columns they match, in order; empty: same names."),
    ] = None
    columns: Annotated[
        list[str] | None,
        ui("Columns", "Reference columns (redis: hash fields) to add; empty: all but the keys."),
    ] = None
    prefix: Annotated[
        str, ui("Prefix", "Put before the added columns' names (to avoid clashes).")
    ] = ""
    unmatched: Annotated[
        Literal["route", "keep"],
        ui("Unmatched", "route: records without a match go to `unmatched`; keep: on, with nulls."),
    ] = "route"
    refresh_seconds: Annotated[
        float,
        ui(
            "Refresh (s)",
            "Reload the table (redis: re-read a cached key) after this; 0: never.",
            ge=0,
        ),
    ] = 0.0

    def __post_init__(self) -> None:
        kind = self.kind
        if isinstance(self.reference, LookupRedis):
            if self.key_columns:
                raise ValueError("key_columns: with reference redis the key template names them")
        else:
            if not self.key_columns:
                raise ValueError(f"key_columns: required with reference {kind}")
            if len(self.lookup_keys) != len(self.key_columns):
                raise ValueError("lookup_key_columns: as many columns as key_columns")

    @property
    def kind(self) -> str:
        return str(self.reference.__struct_config__.tag)

    @property
    def record_keys(self) -> list[str]:
        """The records' columns that make the key."""
        if isinstance(self.reference, LookupRedis):
            return template_columns(self.reference.key)
        return self.key_columns

    @property
    def lookup_keys(self) -> list[str]:
        """The reference table's key columns (redis: the key built from the template)."""
        if isinstance(self.reference, LookupRedis):
            return ["__df_key"]
        return self.lookup_key_columns or self.key_columns


class LookupJoin(Transform[LookupJoinConfig]):
    """The file or query result is held as an Arrow table, unique on its keys, with a row
    number; DuckDB joins each batch's keys to it and the added columns are taken by row
    number, so the batch's own columns are never copied."""

    spec = ProcessorSpec(
        name="lookup_join",
        category="transform",
        status="beta",
        icon="link",
        summary="Add columns from a reference table: a file, a PostgreSQL query or Redis.",
        inputs=("in",),
        outputs=("out", "unmatched"),
        examples=[
            {
                "reference": {"kind": "file", "path": "data/customers.csv"},
                "key_columns": ["customer_id"],
                "lookup_key_columns": ["id"],
            },
            {
                "reference": {
                    "kind": "postgres",
                    "dsn": "postgresql://app@db:5432/shop",
                    "query": "SELECT id, name, tier FROM customers",
                },
                "key_columns": ["customer_id"],
                "lookup_key_columns": ["id"],
                "refresh_seconds": 300,
                "unmatched": "keep",
            },
            {
                "reference": {
                    "kind": "redis",
                    "url": "redis://cache:6379/0",
                    "key": "customer:{customer_id}",
                },
                "columns": ["name", "tier"],
                "prefix": "customer_",
                "refresh_seconds": 60,
            },
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.table: pa.Table | None = None  # file/postgres: keys, columns, __df_ri
        self.loaded_at = 0.0
        self.lock = threading.Lock()  # batches may run concurrently (config.concurrency)
        self.client: redis.Redis | None = None
        self.cache: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()
        #: Seconds for refresh decisions; tests replace it.
        self.clock = time.monotonic

    @classmethod
    def output_ports(cls, config: ProcessorConfig) -> tuple[str, ...]:
        assert isinstance(config, LookupJoinConfig)
        ports = ("out", "unmatched") if config.unmatched == "route" else ("out",)
        return (*ports, "failure") if config.on_error == "route" else ports

    def confine(self) -> None:
        if isinstance(self.config.reference, LookupFile):
            self.allowed_path(self.config.reference.path, "reference.path")

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        schema = inputs.get("in")
        if schema is None:
            return None
        upstream = ", ".join(schema.names) or "none"
        c = self.config
        for i, name in enumerate(c.record_keys):
            if name not in schema.names:
                place = "reference.key" if c.kind == "redis" else f"key_columns[{i}]"
                raise SchemaError(
                    f'column "{name}" does not exist (upstream columns: {upstream})', field=place
                )
        for i, name in enumerate(c.columns or []):
            if c.prefix + name in schema.names:
                raise SchemaError(
                    f'"{c.prefix + name}" is an upstream column already: set a prefix',
                    field=f"columns[{i}]",
                )
        out: dict[str, pa.Schema] = {"unmatched": schema} if c.unmatched == "route" else {}
        if c.kind == "redis" and c.columns:
            # Hash fields are strings: the output is known without asking Redis.
            added = [pa.field(c.prefix + n, pa.string()) for n in c.columns]
            out["out"] = pa.schema([*schema, *added])
        return out

    # -- resources -----------------------------------------------------------------------
    async def open(self) -> None:
        if isinstance(self.config.reference, LookupRedis):
            await asyncio.to_thread(self.connect_redis, self.config.reference)
        else:
            self.table = await asyncio.to_thread(self.load)
            self.loaded_at = self.clock()

    async def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def connect_redis(self, ref: LookupRedis) -> None:
        self.client = redis.Redis.from_url(
            ref.url,
            password=self.config.password,
            decode_responses=True,
            socket_connect_timeout=10,
            socket_timeout=30,
        )
        try:
            self.client.ping()  # an unreachable server fails the start, clearly
        except (redis.RedisError, OSError) as exc:
            info = redis.connection.parse_url(ref.url)
            where = f"{info.get('host', '127.0.0.1')}:{info.get('port', 6379)}"
            raise ConnectionError(f"cannot connect to Redis at {where}: {exc}") from None

    def load(self) -> pa.Table:
        """Read the reference table, keep the wanted columns, one row per key."""
        c = self.config
        ref = c.reference
        if isinstance(ref, LookupFile):
            path = self.context.reach.path(ref.path)  # inside the server's file roots
            parquet = ref.format == "parquet" or (
                ref.format == "auto" and path.suffix.lower() in (".parquet", ".pq")
            )
            try:
                table = pa.parquet.read_table(path) if parquet else pa.csv.read_csv(path)
            except (OSError, pa.ArrowInvalid) as exc:
                raise ValueError(f"cannot read the lookup file {ref.path}: {exc}") from None
        else:
            assert isinstance(ref, LookupPostgres), "redis has no table"
            table = self.query_postgres(ref)
        keys = c.lookup_keys
        for i, name in enumerate(keys):
            if name not in table.schema.names:
                raise ValueError(
                    f"lookup_key_columns[{i}]: the lookup table has no column {name!r}"
                    f" (its columns: {', '.join(table.schema.names)})"
                )
        wanted = c.columns or [n for n in table.schema.names if n not in keys]
        for i, name in enumerate(c.columns or []):
            if name not in table.schema.names:
                raise ValueError(
                    f"columns[{i}]: the lookup table has no column {name!r}"
                    f" (its columns: {', '.join(table.schema.names)})"
                )
        table = table.select([*keys, *wanted])
        # The first row of each key wins: the join must not multiply records.
        table = table.append_column("__df_ri", row_numbers(table.num_rows))
        firsts = table.group_by(keys, use_threads=False).aggregate([("__df_ri", "min")])
        if firsts.num_rows < table.num_rows:
            self.log.warning(
                "lookup_join in node '%s': %d reference rows repeat a key; the first is used",
                self.context.node_id,
                table.num_rows - firsts.num_rows,
            )
            first = firsts.column("__df_ri_min")
            table = table.take(first.take(pc.sort_indices(first)))  # in file order
        return table.set_column(table.num_columns - 1, "__df_ri", row_numbers(table.num_rows))

    def query_postgres(self, ref: LookupPostgres) -> pa.Table:
        where = postgres_server(ref.dsn)
        try:
            with (
                adbc_pg.connect(postgres_conninfo(ref.dsn, self.config.password)) as conn,
                conn.cursor() as cur,
            ):
                cur.execute(ref.query)
                return cur.fetch_arrow_table()
        except Exception as exc:
            lines = str(exc).strip().splitlines()
            reason = _NOISE.sub("", lines[0]).strip() if lines else type(exc).__name__
            raise ConnectionError(
                f"lookup query on PostgreSQL at {where} failed: {reason}"
            ) from None

    def current_table(self) -> pa.Table:
        """The reference table, reloaded when `refresh_seconds` have passed."""
        refresh = self.config.refresh_seconds
        if refresh and self.clock() - self.loaded_at >= refresh:
            with self.lock:
                if self.clock() - self.loaded_at >= refresh:  # another batch may have done it
                    try:
                        self.table = self.load()
                    except Exception as exc:
                        self.log.warning(
                            "lookup_join in node '%s': refresh failed, keeping the previous"
                            " table: %s",
                            self.context.node_id,
                            exc,
                        )
                        # Try again at the next batch rather than after a whole interval.
                        self.loaded_at = self.clock() - refresh
                        return self.table
                    self.loaded_at = self.clock()
        return self.table

    # -- the stream ----------------------------------------------------------------------
    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.Table | pa.RecordBatch]:
        c = self.config
        numbers = row_numbers(batch.num_rows)
        if isinstance(c.reference, LookupRedis):
            sql = f"SELECT {template_sql(c.reference.key)} AS __df_key FROM batch"
            keys = query_tables(sql, batch=batch).column(0)
            probe = pa.table({"__df_key": keys, "__df_i": numbers})
            table = self.redis_table(keys, c.reference)
        else:
            probe = pa.table({n: batch.column(n) for n in c.key_columns} | {"__df_i": numbers})
            table = self.aligned(self.current_table(), probe.schema)
        found = self.match(probe, table)
        added = table.drop_columns([*c.lookup_keys, "__df_ri"]).take(found)
        rows = pa.Table.from_batches([batch])
        for field, column in zip(added.schema, added.columns, strict=True):
            name = c.prefix + field.name
            if name in rows.schema.names:
                raise ValueError(
                    f'lookup column "{field.name}" clashes with the input column {name!r}:'
                    " set a prefix"
                )
            rows = rows.append_column(pa.field(name, field.type), column)
        if c.unmatched == "keep":
            return {"out": rows}
        matched = pc.is_valid(found)
        return {"out": rows.filter(matched), "unmatched": batch.filter(pc.invert(matched))}

    def match(self, probe: pa.Table, table: pa.Table) -> pa.Array:
        """Per record, the number of its reference row (null: none), in record order."""
        c = self.config
        mine = ["__df_key"] if c.kind == "redis" else c.key_columns
        theirs = c.lookup_keys
        on = " AND ".join(f"b.{quote(m)} = r.{quote(t)}" for m, t in zip(mine, theirs, strict=True))
        sql = f"SELECT r.__df_ri FROM batch b LEFT JOIN ref r ON {on} ORDER BY b.__df_i"
        ref = table.select([*theirs, "__df_ri"])
        return query_tables(sql, batch=probe, ref=ref).column(0).combine_chunks()

    def aligned(self, table: pa.Table, probe: pa.Schema) -> pa.Table:
        """The reference table with its key columns of the records' key types (a CSV's types
        are guesses); the converted table is kept for the next batches."""
        c = self.config
        original = table
        pairs = zip(c.key_columns, c.lookup_keys, strict=True)
        for i, (mine, theirs) in enumerate(pairs):
            if table.schema.field(theirs).type != (kind := probe.field(mine).type):
                table = self.align(table, theirs, kind, i)
        if table is not original:
            with self.lock:
                if self.table is original:  # not refreshed meanwhile
                    self.table = table
        return table

    def align(self, table: pa.Table, name: str, kind: pa.DataType, i: int) -> pa.Table:
        field = f"lookup_key_columns[{i}]"
        try:
            column = table.column(name).cast(kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValueError(
                f"{field}: {name!r} is {table.schema.field(name).type} in the lookup table"
                f" and does not convert to {kind}, the type of the records' key: {exc}"
            ) from None
        return table.set_column(table.schema.get_field_index(name), name, column)

    # -- redis ---------------------------------------------------------------------------
    def redis_table(self, keys: pa.ChunkedArray, ref: LookupRedis) -> pa.Table:
        """The hashes of the batch's distinct keys as a table (__df_key, fields, __df_ri)."""
        c = self.config
        wanted = pc.drop_null(pc.unique(keys)).to_pylist()
        now, ttl = self.clock(), c.refresh_seconds
        found: dict[str, dict[str, str]] = {}
        missing = []
        with self.lock:
            for key in wanted:
                entry = self.cache.get(key)
                if entry is not None and (not ttl or now - entry[0] < ttl):
                    self.cache.move_to_end(key)
                    found[key] = entry[1]
                else:
                    missing.append(key)
        if missing:
            if self.client is None:
                raise RuntimeError("lookup_join: the Redis reference is used before open()")
            pipe = self.client.pipeline(transaction=False)
            for key in missing:
                pipe.hgetall(key)
            fetched = pipe.execute()  # one round trip for the batch
            found.update(zip(missing, fetched, strict=True))
            if ref.cache_size:
                # Keys without a hash are cached too: an unknown customer is not asked for
                # at every batch.
                with self.lock:
                    for key, fields in zip(missing, fetched, strict=True):
                        self.cache[key] = (now, fields)
                        self.cache.move_to_end(key)
                    while len(self.cache) > ref.cache_size:
                        self.cache.popitem(last=False)
        hits = [k for k in wanted if found[k]]
        names = c.columns or sorted({f for k in hits for f in found[k]})
        data: dict[str, Any] = {"__df_key": pa.array(hits, pa.string())}
        for name in names:
            data[name] = pa.array([found[k].get(name) for k in hits], pa.string())
        data["__df_ri"] = row_numbers(len(hits))
        return pa.table(data)


def query_tables(sql: str, **tables: pa.Table | pa.RecordBatch) -> pa.Table:
    """Run `sql` with each table visible under its keyword name."""
    con = connection()
    for name, table in tables.items():
        con.register(name, table)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        for name in tables:
            con.unregister(name)
