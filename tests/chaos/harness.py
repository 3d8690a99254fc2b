"""Chaos runs: a stateful flow killed with SIGKILL at random moments, restarted until it ends,
then every output checked record by record against a DuckDB computation over the input.

Used by tests/chaos/test_chaos.py: its tests, and its script mode for full-size runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import importlib.util
import itertools
import json
import math
import os
import random
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from tests.server import ROOT, ServerProcess

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
#: Kafka consumer settings that make Tansu hand partitions over quickly after a kill: a
#: killed member holds its partitions until its session times out.
FAST_GROUP = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500, "linger_ms": 50}
#: The columns every output of orders holds, in this order (`resent`: 1 on a re-sent copy,
#: which dedupe must always drop: a copy in an output means its original was lost or the
#: dedupe state was).
ORDER_COLUMNS = ["order_id", "customer_id", "country", "amount", "status", "ts", "resent"]
CSV_TYPES = {
    "order_id": "int64",
    "customer_id": "int64",
    "amount": "double",
    "ts": "timestamp[s]",
    "resent": "int64",
}
WEEK = 7 * 86400
#: Event times span one year in random order: a lateness above it keeps every record on time.
LATENESS = 400 * 86400
UNIT_ROUNDOFF = 2.0**-53


def _make_orders_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "make_orders", ROOT / "flowfiles" / "data" / "make_orders.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


orders_table = _make_orders_module().orders_table


# -- input ---------------------------------------------------------------------------------
@dataclass
class Orders:
    """The distinct orders (what every output must hold once) and the stream that carries
    them: each one once, plus a fraction re-sent later (`resent` = 1, otherwise equal)."""

    distinct: pa.Table
    stream: pa.Table


def make_orders(rows: int, dup_fraction: float, seed: int) -> Orders:
    """`rows` orders (ids 1..rows) and a stream with `dup_fraction` of them re-sent, each copy
    placed up to a fifth of the stream after its original (often in a later file or batch)."""
    distinct = orders_table(rows, seed).append_column("resent", pa.array(np.zeros(rows, np.int64)))
    rng = np.random.default_rng(seed + 1)
    copies = rng.choice(rows, round(rows * dup_fraction), replace=False)
    later = rng.integers(1, max(2, rows // 5), len(copies))
    positions = np.concatenate([np.arange(rows, dtype=np.float64), copies + later + 0.5])
    resent = distinct.take(pa.array(copies)).set_column(
        6, "resent", pa.array(np.ones(len(copies), np.int64))
    )
    order = pa.array(np.argsort(positions, kind="stable"))
    stream = pa.concat_tables([distinct, resent]).take(order)
    return Orders(distinct, stream.combine_chunks())


def write_csv_files(orders: Orders, directory: Path, files: int) -> list[int]:
    """The stream cut into `files` CSV files, orders-000.csv, ...; returns their row counts."""
    directory.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, orders.stream.num_rows, files + 1).astype(int)
    counts = []
    for i, (start, end) in enumerate(itertools.pairwise(bounds.tolist())):
        part = orders.stream.slice(start, end - start)
        pacsv.write_csv(part, directory / f"orders-{i:03d}.csv")
        counts.append(part.num_rows)
    return counts


def kafka_values(orders: Orders) -> list[tuple[bytes, bytes]]:
    """(key, JSON value) of every record of the stream; ts as epoch seconds. Keyed by order
    id, so a re-sent copy lands in its original's partition, after it."""
    table = orders.stream.set_column(
        5, "ts", orders.stream.column("ts").cast(pa.int64())
    ).to_pylist()
    return [(str(r["order_id"]).encode(), json.dumps(r).encode()) for r in table]


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, replication_factor=1)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Send every record, in order, and wait for all acknowledgements."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20, acks=1
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


# -- flows ---------------------------------------------------------------------------------
def _flow(
    flow_id: str, delivery: str, interval: float, queue: int, nodes: list, edges: list
) -> dict:
    """A flow document; every edge holds at most `queue` batches."""
    return {
        "id": flow_id,
        "name": flow_id,
        "nodes": [{"id": i, "type": t, "config": c} for i, t, c in nodes],
        "edges": [
            {
                "id": f"e{n}",
                "source": s,
                "source_port": p,
                "target": t,
                "settings": {"max_batches": queue},
            }
            for n, (s, p, t) in enumerate(edges)
        ],
        "settings": {"delivery": delivery, "checkpoint_interval_seconds": interval},
    }


DEDUPE = {"key_columns": ["order_id"], "max_keys": 10_000_000}
TOTALS = [
    {"function": "sum", "column": "amount", "as": "total"},
    {"function": "count", "as": "orders"},
]


def file_flow(
    flow_id: str,
    inputs: Path,
    out: Path,
    schema: str,
    delivery: str,
    *,
    interval: float,
    batch_size: int,
    roll_rows: int,
    queue: int,
) -> dict:
    """read_file -> dedupe -> orders as JSON lines, orders into PostgreSQL, totals per country
    (emitted once, at the end) as JSON lines, weekly totals per country (tumbling event-time
    windows, re-emitted as they change) upserted into PostgreSQL."""
    nodes = [
        ("src", "read_file", {"path": str(inputs / "orders-*.csv"), "batch_size": batch_size,
                              "column_types": CSV_TYPES}),
        ("dedupe", "dedupe", DEDUPE),
        ("orders_jsonl", "write_file", {"directory": str(out / "orders"), "format": "jsonl",
                                        "roll_rows": roll_rows}),
        ("orders_pg", "postgres_write", {"dsn": PG_DSN, "table": f"{schema}.orders",
                                         "create_table": True}),
        ("totals", "aggregate", {"group_by": ["country"], "aggregations": TOTALS,
                                 "mode": {"kind": "running", "emit": "final"}}),
        ("totals_jsonl", "write_file", {"directory": str(out / "totals"), "format": "jsonl"}),
        ("weekly", "aggregate", {"group_by": ["country"], "aggregations": TOTALS,
                                 "mode": {"kind": "tumbling", "time_column": "ts",
                                          "window_seconds": WEEK,
                                          "allowed_lateness_seconds": LATENESS}}),
        ("weekly_pg", "postgres_write", {"dsn": PG_DSN, "table": f"{schema}.weekly",
                                         "mode": "upsert", "create_table": True,
                                         "key_columns": ["window_start", "country"]}),
    ]  # fmt: skip
    edges = [
        ("src", "out", "dedupe"),
        ("dedupe", "out", "orders_jsonl"),
        ("dedupe", "out", "orders_pg"),
        ("dedupe", "out", "totals"),
        ("dedupe", "out", "weekly"),
        ("totals", "out", "totals_jsonl"),
        ("weekly", "out", "weekly_pg"),
    ]
    return _flow(flow_id, delivery, interval, queue, nodes, edges)


def kafka_flow(
    flow_id: str,
    bootstrap: str,
    topic: str,
    group: str,
    schema: str,
    delivery: str,
    *,
    interval: float,
    batch_size: int,
    queue: int,
) -> dict:
    """kafka_consume -> dedupe -> orders into PostgreSQL, and running totals per country
    (updates after every batch) upserted into PostgreSQL."""
    nodes = [
        ("src", "kafka_consume", {"bootstrap_servers": bootstrap, "topics": [topic],
                                  "group_id": group, "start_from": "earliest",
                                  "batch_size": batch_size, **FAST_GROUP}),
        ("dedupe", "dedupe", DEDUPE),
        ("orders_pg", "postgres_write", {"dsn": PG_DSN, "table": f"{schema}.orders",
                                         "create_table": True}),
        ("totals", "aggregate", {"group_by": ["country"], "aggregations": TOTALS}),
        ("totals_pg", "postgres_write", {"dsn": PG_DSN, "table": f"{schema}.totals",
                                         "mode": "upsert", "create_table": True,
                                         "key_columns": ["country"]}),
    ]  # fmt: skip
    edges = [
        ("src", "out", "dedupe"),
        ("dedupe", "out", "orders_pg"),
        ("dedupe", "out", "totals"),
        ("totals", "out", "totals_pg"),
    ]
    return _flow(flow_id, delivery, interval, queue, nodes, edges)


# -- PostgreSQL ----------------------------------------------------------------------------
@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema, dropped with everything in it afterwards."""
    name = f"df_chaos_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        try:
            yield name
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def pg_table(
    schema: str, table: str, columns: list[str], types: dict[str, pa.DataType]
) -> pa.Table:
    """A whole table through COPY ... TO STDOUT (CSV), parsed by Arrow: exact values, fast."""
    query = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT (FORMAT csv, HEADER)").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(schema, table)
    )
    chunks = []
    with psycopg.connect(PG_DSN) as conn, conn.cursor() as cur, cur.copy(query) as copy:
        chunks.extend(bytes(chunk) for chunk in copy)
    data = b"".join(chunks)
    return pacsv.read_csv(
        pa.BufferReader(data),
        convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False),
    ).select(columns)


def pg_count(schema: str, table: str, what: str = "count(*)") -> int:
    """count(*) (or another integer expression) over a table; 0 while it does not exist."""
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"."{table}"',)
        ).fetchone()
        if not exists or not exists[0]:
            return 0
        query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(what), sql.Identifier(schema, table))
        row = conn.execute(query).fetchone()
        return int(row[0] or 0) if row else 0


def pg_staging_rows(schema: str) -> int:
    """Rows left in the exactly-once staging tables of the schema."""
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
            (schema, "%__dataflow_staging"),
        ).fetchall()
    return sum(pg_count(schema, t) for (t,) in tables)


# -- outputs -------------------------------------------------------------------------------
ORDER_TYPES = {
    "order_id": pa.int64(),
    "customer_id": pa.int64(),
    "country": pa.string(),
    "amount": pa.float64(),
    "status": pa.string(),
    "ts": pa.timestamp("s"),
    "resent": pa.int64(),
}


def read_jsonl(directory: Path, columns: dict[str, str]) -> pa.Table:
    """Every record of the published JSON-lines files in `directory` (what a glob sees)."""
    files = sorted(glob.glob(f"{directory}/*.jsonl"))
    con = duckdb.connect()
    try:
        if not files:
            cols = ", ".join(f"NULL::{t} AS {c}" for c, t in columns.items())
            return con.sql(f"SELECT {cols} LIMIT 0").to_arrow_table()
        spec = "{" + ", ".join(f"'{c}': '{t}'" for c, t in columns.items()) + "}"
        return con.sql(
            f"SELECT {', '.join(columns)} FROM read_json($files,"
            f" format = 'newline_delimited', columns = {spec})",
            params={"files": files},
        ).to_arrow_table()
    finally:
        con.close()


JSONL_ORDER_COLUMNS = {
    "order_id": "BIGINT",
    "customer_id": "BIGINT",
    "country": "VARCHAR",
    "amount": "DOUBLE",
    "status": "VARCHAR",
    "ts": "TIMESTAMP",
    "resent": "BIGINT",
}


def leftovers(directory: Path) -> tuple[list[str], list[str]]:
    """(names a glob shows that are not published part files, every file hidden from it:
    `.NAME.RUN.NODE.tmp` of at-least-once, anything under `.dataflow-staging`), relative paths."""
    # glob.glob, as a shell or read_file: names starting with "." are not matched.
    visible = [
        os.path.relpath(p, directory)
        for p in glob.glob(f"{directory}/**/*", recursive=True)
        if os.path.isfile(p)
        and not (Path(p).parent == directory and Path(p).name.startswith("part-"))
    ]
    hidden = []
    for root, _, names in os.walk(directory):
        for name in names:
            rel = str((Path(root) / name).relative_to(directory))
            if name.startswith(".") or "/." in f"/{rel}":
                hidden.append(rel)
    return visible, hidden


@dataclass
class Comparison:
    """A multiset of output records against the expected set (each expected exactly once)."""

    records: int
    missing: int  # expected records not in the output
    unexpected: int  # distinct output records that are not expected ones
    duplicates: int  # output records beyond the first of each

    def exactly_once(self) -> bool:
        return self.missing == self.unexpected == self.duplicates == 0

    def nothing_lost(self) -> bool:
        return self.missing == self.unexpected == 0


def compare(expected: pa.Table, got: pa.Table) -> Comparison:
    con = duckdb.connect()
    try:
        con.register("expected", expected)
        con.register("got", got.select(expected.column_names).cast(expected.schema))

        def one(query: str) -> int:
            row = con.execute(query).fetchone()
            return int(row[0]) if row else 0

        return Comparison(
            records=got.num_rows,
            missing=one("SELECT count(*) FROM (SELECT * FROM expected EXCEPT SELECT * FROM got)"),
            unexpected=one(
                "SELECT count(*) FROM (SELECT * FROM got EXCEPT SELECT * FROM expected)"
            ),
            duplicates=got.num_rows - one("SELECT count(*) FROM (SELECT DISTINCT * FROM got)"),
        )
    finally:
        con.close()


# -- aggregates ----------------------------------------------------------------------------
def expected_totals(distinct: pa.Table, window: bool) -> dict[tuple, tuple[int, int, float]]:
    """(window start or None, country) -> (orders, total in exact cents, sum of |amount|).

    The amounts have two decimals, so their exact sum is an integer number of cents: the
    reference carries no rounding at all, whatever order DuckDB adds in."""
    start = (
        f"make_timestamp((epoch(ts)::BIGINT // {WEEK}) * {WEEK} * 1000000)" if window else "NULL"
    )
    con = duckdb.connect()
    try:
        con.register("orders", distinct)
        rows = con.execute(
            f"SELECT {start} AS ws, country, count(*), sum(round(amount * 100)::BIGINT),"
            " sum(abs(amount)) FROM orders GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    return {(ws, country): (n, cents, absolute) for ws, country, n, cents, absolute in rows}


@dataclass
class Totals:
    """Aggregate groups of an output against the expected ones; `problems` names each one
    that is wrong (empty: every group once, counts exact, sums within the rounding bound)."""

    groups: int
    wrong_groups: int
    problems: list[str]


def check_totals(
    got: list[tuple[Any, str, int, float]], expected: dict[tuple, tuple[int, int, float]]
) -> Totals:
    """Each group exactly once, its count exact and its sum within the rounding bound.

    The engine adds the n amounts of a group in some order (DuckDB partials per batch, merged
    into the state; restarts change the batches, so the order): any order of n - 1 double
    additions is within (n - 1) u sum|x| of the exact sum (u = 2^-53, the unit roundoff;
    Higham, Accuracy and Stability of Numerical Algorithms, 4.2), and each amount is itself
    within u |x| of its decimal value, hence the bound n u sum|x|. For 125,000 amounts of
    about 120 that is ~2e-5 on a total of 1.5e7: loose enough for any order, tight enough that
    one order counted twice or lost (>= 0.01) fails."""
    problems = []
    keys = [(ws, country) for ws, country, _, _ in got]
    if twice := sorted({k for k in keys if keys.count(k) > 1}, key=str):
        problems.append(f"{len(twice)} groups appear more than once, e.g. {twice[0]}")
    if missing := sorted(set(expected) - set(keys), key=str):
        problems.append(f"{len(missing)} groups missing, e.g. {missing[0]}")
    if unexpected := sorted(set(keys) - set(expected), key=str):
        problems.append(f"{len(unexpected)} unexpected groups, e.g. {unexpected[0]}")
    wrong = 0
    for ws, country, orders, total in got:
        if (ws, country) not in expected:
            continue
        n, cents, absolute = expected[(ws, country)]
        bound = n * UNIT_ROUNDOFF * absolute
        if orders != n or abs(total - cents / 100) > bound:
            wrong += 1
            if wrong <= 3:
                problems.append(
                    f"group {ws} {country}: {orders} orders, total {total!r}; expected {n},"
                    f" {cents / 100!r} (bound {bound:.3g})"
                )
    if wrong:
        problems.append(f"{wrong} of {len(got)} groups wrong")
    return Totals(len(got), wrong, problems)


def jsonl_totals(directory: Path) -> list[tuple[Any, str, int, float]]:
    cols = {"country": "VARCHAR", "orders": "BIGINT", "total": "DOUBLE"}
    table = read_jsonl(directory, cols)
    return [(None, r["country"], r["orders"], r["total"]) for r in table.to_pylist()]


def pg_totals(schema: str, table: str, window: bool) -> list[tuple[Any, str, int, float]]:
    columns = ["country", "orders", "total"]
    types: dict[str, pa.DataType] = {"orders": pa.int64(), "total": pa.float64()}
    if window:
        columns = ["window_start", *columns]
        types["window_start"] = pa.timestamp("us")
    rows = pg_table(schema, table, columns, types).to_pylist()
    return [(r.get("window_start"), r["country"], r["orders"], r["total"]) for r in rows]


# -- the server and the kills ----------------------------------------------------------------
class Api:
    def __init__(self, server: ServerProcess):
        self.server = server

    def _client(self) -> httpx.Client:
        return self.server.client(timeout=30)

    def create(self, doc: dict) -> None:
        with self._client() as c:
            r = c.post("/api/v1/flows", json=doc)
            assert r.status_code == 201, r.text

    def start(self, flow_id: str) -> dict:
        with self._client() as c:
            r = c.post(f"/api/v1/flows/{flow_id}/start")
            assert r.status_code == 200, r.text
            return r.json()

    def stop(self, flow_id: str) -> dict:
        with self._client() as c:
            r = c.post(f"/api/v1/flows/{flow_id}/stop")
            assert r.status_code == 200, r.text
            return r.json()

    def run(self, flow_id: str) -> dict:
        with self._client() as c:
            return c.get(f"/api/v1/flows/{flow_id}/run").json()

    def events(self, flow_id: str) -> list[dict]:
        with self._client() as c:
            return c.get(f"/api/v1/flows/{flow_id}/events").json()


class RunEnded(AssertionError):
    pass


@dataclass
class Kill:
    target: float  # fraction of the input the kill waited for
    progress: float  # fraction covered by the last committed checkpoint seen before the kill
    checkpoint: int  # its id
    restart_seconds: float  # from the kill to the restarted server answering
    moment: str  # "random", or "prepared": while a sink held a prepared, unpublished checkpoint


@dataclass
class Chaos:
    """SIGKILLs a server at `kills` random moments of a run, restarting it each time.

    Moments: the k-th kill waits until the committed checkpoints cover a random fraction of
    the input in the k-th of `kills` + 1 equal slices of its first 85 % (so kills spread over
    the run, and it has room to end after the last), and for a checkpoint committed since the
    last restart that covers more input than the one it resumed from (so every life of the
    server makes progress), then a random delay within one checkpoint interval (so kills
    land anywhere in the checkpoint cycle: mid-batch, mid-barrier, mid-commit)."""

    server: ServerProcess
    flow_id: str
    kills: int
    seed: int
    interval: float
    #: Fraction of the input a committed checkpoint's source offsets cover.
    progress: Callable[[dict], float]
    #: True while a sink holds a prepared checkpoint it has not published (an exactly-once
    #: write_file's manifest in staging): every other kill waits for such a moment, a window
    #: of milliseconds that random moments seldom hit. None: every kill at a random moment.
    prepared: Callable[[], bool] | None = None
    timeout: float = 300
    done: list[Kill] = field(default_factory=list)

    def run(self) -> list[Kill]:
        rng = random.Random(self.seed)
        api = Api(self.server)
        slices = self.kills + 1
        targets = [0.85 * (k + rng.uniform(0.2, 0.8)) / slices for k in range(self.kills)]
        deadline = time.monotonic() + self.timeout
        for k, target in enumerate(targets):
            status = api.run(self.flow_id)
            since = status.get("checkpoint_id") or 0
            resumed_at = self.progress(status.get("offsets") or {})
            while True:
                status = api.run(self.flow_id)
                if status["state"] != "running":
                    raise RunEnded(
                        f"run {status['state']} ({status.get('error')}) before kill"
                        f" {len(self.done) + 1} of {self.kills}: the flow is too fast to kill"
                        " that often, or it failed"
                    )
                checkpoint = status.get("checkpoint_id") or 0
                progress = self.progress(status.get("offsets") or {})
                if checkpoint > since and progress > resumed_at and progress >= target:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"no checkpoint past {target:.0%} of the input in time")
                time.sleep(0.02)
            moment = "random"
            if self.prepared is not None and k % 2:
                moment = "prepared" if self._until_prepared(3 * self.interval + 1) else "random"
            else:
                time.sleep(rng.uniform(0, self.interval))
            self.server.stop(signal.SIGKILL)
            killed = time.monotonic()
            self.server.start()
            self.done.append(
                Kill(
                    target,
                    self.progress(status.get("offsets") or {}),
                    status.get("checkpoint_id") or 0,
                    time.monotonic() - killed,
                    moment,
                )
            )
        return self.done

    def _until_prepared(self, timeout: float) -> bool:
        """Spin until a sink holds a prepared checkpoint (no HTTP call: the window between a
        sink's prepare and its publish lasts milliseconds)."""
        assert self.prepared is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.prepared():
                return True
            time.sleep(0.0002)
        return False


def wait_for(
    check: Callable[[], Any], what: str, timeout: float, watch: Callable[[], None] | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if watch is not None:
            watch()
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)


def staged_manifests(directory: Path) -> Callable[[], bool]:
    """True while an exactly-once write_file under `directory` has a checkpoint manifest in
    staging: prepared, not yet published."""
    pattern = f"{directory}/*/.dataflow-staging/*/*/ckpt-*.json"
    return lambda: bool(glob.glob(pattern))


def file_progress(counts: list[int], files: list[str]) -> Callable[[dict], float]:
    """Fraction of the CSV input a read_file offset covers."""
    rows = dict(zip(files, counts, strict=True))
    total = sum(counts)

    def progress(offsets: dict) -> float:
        offset = offsets.get("src") or {}
        done = sum(rows.get(f, 0) for f in offset.get("files_done", []))
        return (done + offset.get("position", 0)) / total

    return progress


def kafka_progress(total: int) -> Callable[[dict], float]:
    def progress(offsets: dict) -> float:
        return sum((offsets.get("src") or {}).values()) / total

    return progress


def median(values: list[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
