"""duckdb_write: appends by column name into a database file, creates tables from the Arrow
schema, keeps one connection for the run, and names the columns when they do not match."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from dataflow_processors.duckdb_write import DuckdbWrite
from tests.connectors.db_fixtures import make, write_all

ORDERS = pa.RecordBatch.from_pydict(
    {
        "order_id": pa.array([1, 2], pa.int64()),
        "amount": pa.array([Decimal("250.50"), None], pa.decimal128(10, 2)),
        "status": ["paid", ""],
        "at": pa.array([dt.datetime(2024, 1, 1, tzinfo=dt.UTC)] * 2, pa.timestamp("us", "UTC")),
        "tags": [["a"], []],
    }
)


def read(path, query: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(query).fetchall()


async def test_appends_batches_to_a_table_created_from_the_arrow_schema(tmp_path):
    db = tmp_path / "data" / "warehouse.duckdb"
    sink = make(DuckdbWrite, {"database": str(db), "table": "orders"}, tmp_path)
    await sink.open()
    con = sink.con
    await sink.write_async(ORDERS)
    await sink.write_async(ORDERS.slice(0, 1))
    assert sink.con is con  # one connection from open() to close()
    await sink.close()
    assert read(
        db,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'orders' ORDER BY ordinal_position",
    ) == [
        ("order_id", "BIGINT"),
        ("amount", "DECIMAL(10,2)"),
        ("status", "VARCHAR"),
        ("at", "TIMESTAMP WITH TIME ZONE"),
        ("tags", "VARCHAR[]"),
    ]
    assert read(db, "SELECT order_id, amount, status, tags FROM orders") == [
        (1, Decimal("250.50"), "paid", ["a"]),
        (2, None, "", []),
        (1, Decimal("250.50"), "paid", ["a"]),
    ]


async def test_columns_match_by_name_and_missing_ones_get_defaults(tmp_path):
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA sales")
        con.execute(
            "CREATE TABLE sales.orders (status VARCHAR, order_id INT, "
            "source VARCHAR DEFAULT 'flow')"
        )
    sink = make(
        DuckdbWrite, {"database": str(db), "table": "sales.orders", "create_table": False}, tmp_path
    )
    await write_all(sink, [ORDERS.select(["order_id", "status"])])
    assert read(db, "SELECT * FROM sales.orders") == [("paid", 1, "flow"), ("", 2, "flow")]


async def test_creates_a_missing_schema(tmp_path):
    db = tmp_path / "w.duckdb"
    await write_all(
        make(DuckdbWrite, {"database": str(db), "table": "raw.events"}, tmp_path), [[{"id": 1}]]
    )
    assert read(db, "SELECT * FROM raw.events") == [(1,)]


async def test_wrong_column_or_missing_table_is_a_clear_error(tmp_path):
    db = tmp_path / "w.duckdb"
    sink = make(DuckdbWrite, {"database": str(db), "table": "orders"}, tmp_path)
    await write_all(sink, [[{"order_id": 1, "amount": 5.0}]])
    with pytest.raises(
        ValueError,
        match=r"column\(s\) amout not in table orders \(table "
        r"columns: order_id, amount\)",
    ):
        await write_all(
            make(DuckdbWrite, {"database": str(db), "table": "orders"}, tmp_path),
            [[{"order_id": 2, "amout": 5.0}]],
        )
    with pytest.raises(ValueError, match=r"table nope does not exist \(turn on create_table"):
        await write_all(
            make(
                DuckdbWrite, {"database": str(db), "table": "nope", "create_table": False}, tmp_path
            ),
            [[{"a": 1}]],
        )
    assert read(db, "SELECT * FROM orders") == [(1, 5.0)]
