"""cassandra_write: CQL statements, type mapping, row binding and failure routing (always run);
writing to and reading back from a real Cassandra when DATAFLOW_TEST_CASSANDRA=host:port."""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal

import msgspec
import pyarrow as pa
import pytest
from cassandra import InvalidRequest
from cassandra.cluster import Cluster, NoHostAvailable
from cassandra.policies import DCAwareRoundRobinPolicy
from cassandra.query import UNSET_VALUE, dict_factory

from dataflow.processor import Context, SchemaError
from dataflow.testing import run_sink
from dataflow_processors.cassandra_write import (
    CassandraWrite,
    cql_type,
    create_table_statement,
    describe,
    failed_rows,
    insert_statement,
    rows_of,
)
from tests.kafka_broker import free_port

SERVER = os.environ.get("DATAFLOW_TEST_CASSANDRA", "")
needs_server = pytest.mark.skipif(
    not SERVER, reason="set DATAFLOW_TEST_CASSANDRA=host:port to run against a Cassandra server"
)


# -- statements and types ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arrow", "cql"),
    [
        (pa.bool_(), "boolean"),
        (pa.int8(), "tinyint"),
        (pa.int32(), "int"),
        (pa.int64(), "bigint"),
        (pa.uint32(), "bigint"),
        (pa.uint64(), "varint"),
        (pa.float32(), "float"),
        (pa.float64(), "double"),
        (pa.decimal128(12, 2), "decimal"),
        (pa.string(), "text"),
        (pa.large_string(), "text"),
        (pa.dictionary(pa.int32(), pa.string()), "text"),
        (pa.binary(), "blob"),
        (pa.date32(), "date"),
        (pa.time64("us"), "time"),
        (pa.timestamp("ms"), "timestamp"),
        (pa.timestamp("ns", "Europe/Paris"), "timestamp"),
        (pa.uuid(), "uuid"),
        (pa.list_(pa.string()), "list<text>"),
        (pa.list_(pa.list_(pa.int32())), "list<frozen<list<int>>>"),
        (pa.map_(pa.string(), pa.int64()), "map<text, bigint>"),
        (pa.map_(pa.string(), pa.list_(pa.float64())), "map<text, frozen<list<double>>>"),
    ],
)
def test_cql_type(arrow, cql):
    assert cql_type(arrow) == cql


def test_insert_statement_quotes_only_what_needs_it():
    assert insert_statement("shop", "orders", ["id", "OrderDate", "select"]) == (
        'INSERT INTO shop.orders (id, "OrderDate", "select") VALUES (?, ?, ?)'
    )


def test_insert_statement_with_if_not_exists_and_ttl():
    assert insert_statement("shop", "Orders", ["id"], ttl_seconds=86400, if_not_exists=True) == (
        'INSERT INTO shop."Orders" (id) VALUES (?) IF NOT EXISTS USING TTL 86400'
    )


def test_create_table_statement_partition_and_clustering_key():
    schema = pa.schema(
        [
            ("sensor_id", pa.string()),
            ("at", pa.timestamp("ms", "UTC")),
            ("value", pa.float64()),
            ("tags", pa.list_(pa.string())),
        ]
    )
    assert create_table_statement("metrics", "readings", schema, ["sensor_id", "at"]) == (
        "CREATE TABLE IF NOT EXISTS metrics.readings (sensor_id text, at timestamp,"
        " value double, tags list<text>, PRIMARY KEY ((sensor_id), at))"
    )


def test_create_table_names_a_column_without_cql_type():
    schema = pa.schema([("id", pa.int64()), ("address", pa.struct([("city", pa.string())]))])
    with pytest.raises(ValueError, match="column 'address': no CQL type for Arrow type struct"):
        create_table_statement("shop", "customers", schema, ["id"])


# -- binding rows --------------------------------------------------------------------------
def test_rows_are_bound_from_columns_with_nulls_unset():
    at = dt.datetime(2024, 1, 31, 23, 59, 59, 123456, tzinfo=dt.UTC)
    batch = pa.RecordBatch.from_pydict(
        {
            "id": pa.array([1, 2], pa.int64()),
            "name": pa.array(["a", None]),
            "amount": pa.array([Decimal("1.50"), Decimal("-2.00")], pa.decimal128(6, 2)),
            "at": pa.array([at, None], pa.timestamp("ns", "UTC")),
            "attrs": pa.array([[("k", 1)], []], pa.map_(pa.string(), pa.int64())),
            "tags": pa.array([["x", "y"], None], pa.list_(pa.string())),
        }
    )
    rows = rows_of(batch)
    assert rows[0] == (1, "a", Decimal("1.50"), at, {"k": 1}, ["x", "y"])
    # A null cell is left unset rather than written as a tombstone.
    assert rows[1] == (2, UNSET_VALUE, Decimal("-2.00"), UNSET_VALUE, {}, UNSET_VALUE)
    assert rows_of(batch, null_as_unset=False)[1] == (2, None, Decimal("-2.00"), None, {}, None)


def test_failed_rows_carry_the_server_error_in_batch_order():
    batch = pa.RecordBatch.from_pylist([{"id": i, "v": f"v{i}"} for i in range(4)])
    errors = {
        3: describe(InvalidRequest('Error from server: code=2200 [Invalid query] message="x"')),
        1: describe(InvalidRequest("Invalid unset value for column id")),
    }
    assert failed_rows(batch, errors).to_pylist() == [
        {"id": 1, "v": "v1", "error": "InvalidRequest: Invalid unset value for column id"},
        {
            "id": 3,
            "v": "v3",
            "error": 'InvalidRequest: Error from server: code=2200 [Invalid query] message="x"',
        },
    ]


def test_no_host_available_names_each_host():
    exc = NoHostAvailable(
        "Unable to connect to any servers", {"10.0.0.1:9042": ConnectionRefusedError(111, "no")}
    )
    assert describe(exc) == ("Unable to connect to any servers (10.0.0.1:9042: [Errno 111] no)")


# -- configuration -------------------------------------------------------------------------
BASE = {"contact_points": ["127.0.0.1"], "keyspace": "shop", "table": "orders"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({**BASE, "create_table": True}, "create_table needs the primary key"),
        ({**BASE, "consistency": "MOST"}, "`$.consistency`"),
        ({**BASE, "contact_points": []}, "`$.contact_points`"),
        ({**BASE, "concurrency": 0}, "`$.concurrency`"),
    ],
)
def test_bad_config(config, message):
    with pytest.raises(msgspec.ValidationError) as err:
        CassandraWrite.parse_config(config)
    assert message in str(err.value)


def test_output_schema_checks_the_key_and_types():
    schema = pa.schema([("id", pa.int64()), ("loc", pa.struct([("x", pa.float64())]))])
    sink = CassandraWrite(CassandraWrite.parse_config({**BASE, "primary_key": ["order_id"]}))
    with pytest.raises(SchemaError, match='column "order_id" does not exist') as err:
        sink.output_schema({"in": schema})
    assert err.value.field == "primary_key"
    config = {**BASE, "create_table": True, "primary_key": ["id"], "on_error": "route"}
    sink = CassandraWrite(CassandraWrite.parse_config(config))
    with pytest.raises(SchemaError, match="column 'loc'"):
        sink.output_schema({"in": schema})
    ok = pa.schema([("id", pa.int64())])
    assert sink.output_schema({"in": ok}) == {"failure": ok.append(pa.field("error", pa.string()))}


def test_unreachable_cluster_is_retried_then_named(caplog):
    port = free_port()  # nothing listens there: every connection is refused
    config = {
        **BASE,
        "port": port,
        "connect_timeout_seconds": 0.3,
        "retry_backoff_seconds": 0.05,
    }
    with caplog.at_level(logging.WARNING, "dataflow"), pytest.raises(ConnectionError) as err:
        run_sink(CassandraWrite, config, [{"id": 1}], context=Context(node_id="orders"))
    assert f"cannot reach Cassandra at 127.0.0.1 (port {port}) within 0.3 s" in str(err.value)
    assert "Connection refused" in str(err.value)
    assert any("retrying in" in r.getMessage() for r in caplog.records)


# -- against a real Cassandra --------------------------------------------------------------
@pytest.fixture
def cassandra() -> Iterator[tuple[object, str, dict]]:
    """A session (rows as dicts), a fresh keyspace dropped afterwards, and the sink's config."""
    host, _, port = SERVER.rpartition(":")
    cluster = Cluster([host], port=int(port), load_balancing_policy=DCAwareRoundRobinPolicy())
    session = cluster.connect()
    session.row_factory = dict_factory
    keyspace = f"df_test_{uuid.uuid4().hex[:12]}"
    session.execute(
        f"CREATE KEYSPACE {keyspace} WITH replication"
        " = {'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    config = {"contact_points": [host], "port": int(port), "keyspace": keyspace}
    try:
        yield session, keyspace, config
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        cluster.shutdown()


@needs_server
def test_creates_the_table_and_writes_every_row(cassandra):
    session, keyspace, config = cassandra
    at = dt.datetime(2024, 3, 1, 12, 30, 15, 250000, tzinfo=dt.UTC)
    rows = [
        {
            "id": i,
            "name": None if i == 2 else f"n{i}",
            "amount": Decimal(f"{i}.25"),
            "at": at + dt.timedelta(minutes=i),
            "paid": i % 2 == 0,
            "tags": [f"t{i}", "x"],
        }
        for i in range(1, 201)
    ]
    config = {**config, "table": "orders", "create_table": True, "primary_key": ["id"]}
    out = run_sink(CassandraWrite, {**config, "concurrency": 16}, rows, batch_size=64)
    assert out == {}
    stored = sorted(session.execute(f"SELECT * FROM {keyspace}.orders"), key=lambda r: r["id"])
    # The driver reads timestamps back as naive UTC datetimes.
    assert stored == [{**r, "at": r["at"].replace(tzinfo=None)} for r in rows]


@needs_server
def test_rejected_rows_go_to_failure_with_the_server_error(cassandra):
    session, keyspace, config = cassandra
    session.execute(f"CREATE TABLE {keyspace}.kv (id int PRIMARY KEY, v text)")
    config = {**config, "table": "kv", "on_error": "route"}
    rows = [{"id": 1, "v": "a"}, {"id": None, "v": "b"}, {"id": 3, "v": "c"}]
    out = run_sink(CassandraWrite, config, rows)
    assert [r["v"] for r in out["failure"]] == ["b"]
    assert "id" in out["failure"][0]["error"]
    stored = session.execute(f"SELECT id, v FROM {keyspace}.kv")
    assert sorted((r["id"], r["v"]) for r in stored) == [(1, "a"), (3, "c")]


@needs_server
def test_if_not_exists_keeps_the_stored_row_and_ttl_expires_cells(cassandra):
    session, keyspace, config = cassandra
    session.execute(f"CREATE TABLE {keyspace}.kv (id int PRIMARY KEY, v text)")
    config = {**config, "table": "kv", "ttl_seconds": 3600}
    run_sink(CassandraWrite, config, [{"id": 1, "v": "first"}])
    run_sink(CassandraWrite, {**config, "if_not_exists": True}, [{"id": 1, "v": "second"}])
    (row,) = session.execute(f"SELECT v, TTL(v) AS ttl FROM {keyspace}.kv WHERE id = 1")
    assert row["v"] == "first"
    assert 0 < row["ttl"] <= 3600


@needs_server
def test_unknown_table_is_named(cassandra):
    _, keyspace, config = cassandra
    with pytest.raises(ValueError, match=f"INSERT INTO {keyspace}.nope"):
        run_sink(CassandraWrite, {**config, "table": "nope"}, [{"id": 1}])
