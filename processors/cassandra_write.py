"""Write rows to a Cassandra table with one prepared INSERT run concurrently over a batch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, TypeVar

import pyarrow as pa
from cassandra import (
    AuthenticationFailed,
    ConsistencyLevel,
    InvalidRequest,
    OperationTimedOut,
    Unavailable,
    UnresolvableContactPoints,
    WriteTimeout,
)
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.metadata import protect_name
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import UNSET_VALUE

from dataflow.processor import ProcessorConfig, ProcessorSpec, SchemaError, Sink, ui
from dataflow.processor.base import with_error_column

T = TypeVar("T")
Consistency = Literal[
    "ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE"
]

#: Errors that go away once nodes are back or less loaded; INSERTs are idempotent, so resend.
TRANSIENT = (NoHostAvailable, OperationTimedOut, Unavailable, WriteTimeout)

_CQL_TYPES = {
    pa.bool_(): "boolean",
    pa.int8(): "tinyint",
    pa.int16(): "smallint",
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.uint8(): "smallint",
    pa.uint16(): "int",
    pa.uint32(): "bigint",
    pa.uint64(): "varint",
    pa.float32(): "float",
    pa.float64(): "double",
    pa.string(): "text",
    pa.large_string(): "text",
    pa.string_view(): "text",
    pa.binary(): "blob",
    pa.large_binary(): "blob",
    pa.date32(): "date",
    pa.date64(): "date",
    pa.null(): "text",
}


def cql_type(t: pa.DataType) -> str:
    """The CQL column type for an Arrow type (create_table); ValueError when there is none."""
    if pa.types.is_dictionary(t):
        return cql_type(t.value_type)
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_fixed_size_binary(t):
        return "blob"
    if isinstance(t, pa.UuidType):
        return "uuid"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"list<{_element(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{_element(t.key_type)}, {_element(t.item_type)}>"
    if t in _CQL_TYPES:
        return _CQL_TYPES[t]
    raise ValueError(f"no CQL type for Arrow type {t}")


def _element(t: pa.DataType) -> str:
    inner = cql_type(t)
    return f"frozen<{inner}>" if "<" in inner else inner  # nested collections must be frozen


def insert_statement(
    keyspace: str, table: str, columns: list[str], ttl_seconds: int = 0, if_not_exists: bool = False
) -> str:
    """The INSERT prepared for a batch with these columns."""
    names = ", ".join(map(protect_name, columns))
    cql = (
        f"INSERT INTO {protect_name(keyspace)}.{protect_name(table)} ({names})"
        f" VALUES ({', '.join('?' * len(columns))})"
    )
    if if_not_exists:
        cql += " IF NOT EXISTS"
    if ttl_seconds:
        cql += f" USING TTL {int(ttl_seconds)}"
    return cql


def create_table_statement(
    keyspace: str, table: str, schema: pa.Schema, primary_key: list[str]
) -> str:
    """CREATE TABLE IF NOT EXISTS from an Arrow schema: the first key column is the partition
    key, the others clustering columns."""
    columns = []
    for field in schema:
        try:
            columns.append(f"{protect_name(field.name)} {cql_type(field.type)}")
        except ValueError as exc:
            raise ValueError(f"column {field.name!r}: {exc}") from None
    partition, *clustering = map(protect_name, primary_key)
    key = ", ".join([f"({partition})", *clustering])
    return (
        f"CREATE TABLE IF NOT EXISTS {protect_name(keyspace)}.{protect_name(table)}"
        f" ({', '.join(columns)}, PRIMARY KEY ({key}))"
    )


def rows_of(batch: pa.RecordBatch, null_as_unset: bool = True) -> list[tuple[Any, ...]]:
    """The batch as parameter tuples: one to_pylist per column, zipped once (the driver binds
    Python values, so per-row Python cannot be avoided, only kept to one pass)."""
    columns = []
    for column in batch.columns:
        if pa.types.is_timestamp(column.type) and column.type.unit == "ns":
            # Cassandra keeps milliseconds; nanoseconds have no datetime to become.
            column = column.cast(pa.timestamp("us", column.type.tz), safe=False)
        values = column.to_pylist(maps_as_pydicts="strict")  # a CQL map binds from a dict
        if null_as_unset and column.null_count:
            # A null written is a tombstone per cell, which slows every later read of the row.
            values = [UNSET_VALUE if v is None else v for v in values]
        columns.append(values)
    return list(zip(*columns, strict=True))


def describe(exc: BaseException) -> str:
    if isinstance(exc, NoHostAvailable) and len(exc.args) > 1 and exc.args[1]:
        hosts = "; ".join(f"{host}: {error}" for host, error in exc.args[1].items())
        return f"{exc.args[0]} ({hosts})"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class CassandraWriteConfig(ProcessorConfig, kw_only=True):
    """Each row becomes one INSERT of the batch's columns into `keyspace.table`, prepared once
    per set of columns and run `concurrency` at a time. Columns match by name (unquoted names
    are lower case in CQL; other names must match exactly).

    A batch counts as written when every row was acknowledged at the chosen consistency
    level. INSERTs are upserts, so a batch replayed after a failure writes the same cells
    again. Rows the cluster rejects (a null key, a wrong type) go to `failure` with the server's
    message when on_error is route. Unreachable nodes and timeouts are retried with backoff
    for connect_timeout_seconds (at start and mid-run), then count as failed.

    create_table maps Arrow types to boolean, tinyint/smallint/int/bigint/varint, float/double,
    decimal, text, blob, date, time, timestamp, uuid, list and map.
    """

    contact_points: Annotated[
        list[str],
        ui(
            "Contact points",
            "Hosts or IP addresses of some nodes; the driver finds the others.",
            examples=[["10.0.0.1", "10.0.0.2"]],
            min_length=1,
        ),
    ]
    port: Annotated[int, ui("Port", "Native protocol port of the nodes.", ge=1, le=65535)] = 9042
    keyspace: Annotated[
        str,
        ui("Keyspace", "Keyspace of the table (it must exist).", placeholder="shop", min_length=1),
    ]
    table: Annotated[
        str, ui("Table", "Table the rows are inserted into.", placeholder="orders", min_length=1)
    ]
    local_dc: Annotated[
        str,
        ui(
            "Local datacenter",
            "Datacenter whose nodes coordinate the writes; empty = that of the first"
            " contact point reached.",
        ),
    ] = ""
    username: Annotated[str, ui("Username", "For PasswordAuthenticator; empty = no login.")] = ""
    password: Annotated[
        str, ui("Password", "With the username.", widget="password", secret=True)
    ] = ""
    consistency: Annotated[
        Consistency, ui("Consistency", "How many replicas must acknowledge each row.")
    ] = "LOCAL_QUORUM"
    concurrency: Annotated[
        int,
        ui(
            "Concurrency",
            "INSERTs in flight at once, over all nodes.",
            advanced=True,
            ge=1,
            le=2048,
        ),
    ] = 100
    ttl_seconds: Annotated[
        int, ui("TTL (s)", "Rows expire after this long; 0 = never.", ge=0, le=630720000)
    ] = 0
    if_not_exists: Annotated[
        bool,
        ui(
            "If not exists",
            "Keep the row already stored under the same key (a lightweight transaction per"
            " row: several times slower).",
            advanced=True,
        ),
    ] = False
    null_as_unset: Annotated[
        bool,
        ui(
            "Skip nulls",
            "Leave null cells unset instead of writing nulls, which are tombstones: an"
            " existing value is then kept.",
            advanced=True,
        ),
    ] = True
    create_table: Annotated[
        bool, ui("Create table", "Create the table from the first batch's schema when missing.")
    ] = False
    primary_key: Annotated[
        list[str],
        ui(
            "Primary key",
            "With create_table: the first column is the partition key, the others"
            " clustering columns.",
        ),
    ] = []
    connect_timeout_seconds: Annotated[
        float,
        ui(
            "Connect timeout (s)",
            "How long unreachable nodes are retried, with backoff, before failing.",
            advanced=True,
            gt=0,
        ),
    ] = 30.0
    request_timeout_seconds: Annotated[
        float, ui("Request timeout (s)", "Per INSERT.", advanced=True, gt=0)
    ] = 10.0

    def __post_init__(self) -> None:
        if self.create_table and not self.primary_key:
            raise ValueError("primary_key: create_table needs the primary key columns")

    @property
    def where(self) -> str:
        return f"{', '.join(self.contact_points)} (port {self.port})"


class CassandraWrite(Sink[CassandraWriteConfig]):
    spec = ProcessorSpec(
        name="cassandra_write",
        category="sink",
        status="beta",
        icon="database",
        title="Cassandra write",
        summary="Insert rows into a Cassandra table with concurrent prepared statements.",
        inputs=("in",),
        examples=[
            {"contact_points": ["cassandra"], "keyspace": "shop", "table": "orders"},
            {
                "contact_points": ["10.0.0.1", "10.0.0.2"],
                "keyspace": "metrics",
                "table": "readings",
                "local_dc": "eu-west",
                "consistency": "LOCAL_ONE",
                "ttl_seconds": 604800,
                "create_table": True,
                "primary_key": ["sensor_id", "at"],
            },
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.cluster: Cluster | None = None
        self.session: Any = None
        self.prepared: dict[tuple[str, ...], Any] = {}  # per column set of the batches
        self.table_checked = False

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema]:
        schema, cfg = inputs.get("in"), self.config
        if schema is None:
            return {}
        missing = [k for k in cfg.primary_key if k not in schema.names]
        if missing:
            raise SchemaError(
                f'column "{missing[0]}" does not exist (upstream columns: '
                f"{', '.join(schema.names) or 'none'})",
                field="primary_key",
            )
        if cfg.create_table:
            try:
                create_table_statement(cfg.keyspace, cfg.table, schema, cfg.primary_key)
            except ValueError as exc:
                raise SchemaError(str(exc), field="create_table") from exc
        if cfg.on_error == "route":
            return {"failure": schema.append(pa.field("error", pa.string()))}
        return {}

    async def open(self) -> None:
        await asyncio.to_thread(self._connect)

    async def close(self) -> None:
        if self.cluster is not None:
            cluster, self.cluster, self.session = self.cluster, None, None
            await asyncio.to_thread(cluster.shutdown)

    def _connect(self) -> None:
        cfg = self.config
        profile = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(
                DCAwareRoundRobinPolicy(local_dc=cfg.local_dc or None)
            ),
            consistency_level=ConsistencyLevel.name_to_value[cfg.consistency],
            request_timeout=cfg.request_timeout_seconds,
        )
        auth = PlainTextAuthProvider(cfg.username, cfg.password) if cfg.username else None

        def connect() -> None:
            try:
                cluster = Cluster(
                    cfg.contact_points,
                    port=cfg.port,
                    auth_provider=auth,
                    execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                    connect_timeout=min(5.0, cfg.connect_timeout_seconds),
                )
            except UnresolvableContactPoints as exc:
                raise ConnectionError(
                    f"Cassandra at {cfg.where}: no contact point resolves"
                ) from exc
            try:
                self.session = cluster.connect()
            except BaseException:
                cluster.shutdown()  # a failed Cluster cannot connect again: start afresh
                raise
            self.cluster = cluster
            self.prepared.clear()  # statements belong to the cluster that prepared them

        self._retrying(connect)

    def _retrying(self, call: Callable[[], T]) -> T:
        """`call()`, again with backoff while no node answers, until the connect timeout."""
        cfg = self.config
        deadline = time.monotonic() + cfg.connect_timeout_seconds
        delay = max(cfg.retry_backoff_seconds, 0.05)
        while True:
            try:
                return call()
            except NoHostAvailable as exc:
                errors = exc.args[1].values() if len(exc.args) > 1 and exc.args[1] else ()
                if any(isinstance(e, AuthenticationFailed) for e in errors):
                    raise ConnectionError(f"Cassandra at {cfg.where}: {describe(exc)}") from exc
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ConnectionError(self._unreachable(exc)) from exc
                self.log.warning("%s; retrying in %.1f s", self._unreachable(exc), min(delay, left))
                time.sleep(min(delay, left))  # in a worker thread: the event loop runs on
                delay = min(delay * 2, 10.0)

    def _unreachable(self, exc: BaseException) -> str:
        cfg = self.config
        if not isinstance(exc, NoHostAvailable):  # a timeout: the nodes answer, too slowly
            return f"{describe(exc)} (still after {cfg.connect_timeout_seconds:g} s of retries)"
        return (
            f"cannot reach Cassandra at {cfg.where} within {cfg.connect_timeout_seconds:g} s"
            f" ({describe(exc)})"
        )

    def _prepare(self, batch: pa.RecordBatch) -> Any:
        cfg, names = self.config, tuple(batch.schema.names)
        if cfg.create_table and not self.table_checked:
            cql = create_table_statement(cfg.keyspace, cfg.table, batch.schema, cfg.primary_key)
            self._retrying(lambda: self.session.execute(cql))  # waits for schema agreement
            self.table_checked = True
        if names not in self.prepared:
            cql = insert_statement(
                cfg.keyspace, cfg.table, list(names), cfg.ttl_seconds, cfg.if_not_exists
            )
            try:
                self.prepared[names] = self._retrying(lambda: self.session.prepare(cql))
            except InvalidRequest as exc:  # unknown keyspace, table or column: the server says
                raise ValueError(f"cannot prepare {cql}: {describe(exc)}") from exc
        return self.prepared[names]

    def write(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch] | None:
        if not batch.num_rows:
            return None
        if self.session is None:
            self._connect()  # after close: the engine's retry of a batch lands here
        statement = self._prepare(batch)
        errors = self._insert_all(statement, rows_of(batch, self.config.null_as_unset))
        if not errors:
            return None
        rows = sorted(errors)
        if self.config.on_error == "route":
            return {"failure": failed_rows(batch, errors)}
        raise RuntimeError(
            f"{len(rows)} of {batch.num_rows} rows not written to "
            f"{self.config.keyspace}.{self.config.table}; first (row {rows[0]}): {errors[rows[0]]}"
        )

    def _insert_all(self, statement: Any, params: list[tuple[Any, ...]]) -> dict[int, str]:
        """Insert every row; rows failing for a passing reason are sent again until the connect
        timeout. Returns row -> error of what still failed."""
        cfg = self.config
        pending, errors = list(range(len(params))), {}
        deadline = time.monotonic() + cfg.connect_timeout_seconds
        delay = max(cfg.retry_backoff_seconds, 0.05)
        while pending:
            results = execute_concurrent_with_args(
                self.session,
                statement,
                [params[i] for i in pending] if len(pending) < len(params) else params,
                concurrency=cfg.concurrency,
                raise_on_first_error=False,
            )
            failed = {i: r for i, (ok, r) in zip(pending, results, strict=True) if not ok}
            pending = [i for i, exc in failed.items() if isinstance(exc, TRANSIENT)]
            if time.monotonic() + delay > deadline:
                pending = []
            again = set(pending)
            for i, exc in failed.items():
                if i not in again:
                    transient = isinstance(exc, TRANSIENT)
                    errors[i] = self._unreachable(exc) if transient else describe(exc)
            if pending:
                self.log.warning(
                    "%s: %d rows not written (%s); sending again in %.1f s",
                    self.context.node_id,
                    len(pending),
                    describe(failed[pending[0]]),
                    delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        return errors


def failed_rows(batch: pa.RecordBatch, errors: Mapping[int, str]) -> pa.RecordBatch:
    """The rows that failed, in batch order, with their `error`."""
    rows = sorted(errors)
    failed = batch.take(pa.array(rows, pa.int64()))
    return with_error_column(failed, pa.array([errors[i] for i in rows], pa.string()))
