"""sql: a DuckDB query per batch, schema checked before running."""

import msgspec
import pyarrow as pa
import pytest

from dataflow.processor import SchemaError
from dataflow_processors.sql import Sql

ORDERS = [
    {"id": 1, "status": "paid", "amount": 10.0},
    {"id": 2, "status": "open", "amount": 20.0},
    {"id": 3, "status": "paid", "amount": 5.5},
]
SCHEMA = pa.schema([("id", pa.int64()), ("status", pa.string()), ("amount", pa.float64())])


async def test_query_over_the_batch(h):
    config = {"query": "SELECT id, amount * 2 AS double FROM input WHERE status = 'paid';"}
    out = await h.transform_rows(Sql, config, ORDERS)
    assert out == {"out": [{"id": 1, "double": 20.0}, {"id": 3, "double": 11.0}]}


async def test_aggregates_apply_per_batch(h):
    config = {"query": "SELECT status, sum(amount) AS total FROM input GROUP BY 1 ORDER BY 1"}
    out = await h.run_transform(h.make(Sql, config), [ORDERS[:2], ORDERS[2:]])
    assert out["out"] == [
        {"status": "open", "total": 20.0},
        {"status": "paid", "total": 10.0},
        {"status": "paid", "total": 5.5},
    ]


def test_output_schema_from_binding_the_query(h):
    sql = h.make(Sql, {"query": "SELECT id, upper(status) AS s, amount > 6 AS big FROM input"})
    assert sql.output_schema({"in": SCHEMA}) == {
        "out": pa.schema([("id", pa.int64()), ("s", pa.string()), ("big", pa.bool_())])
    }
    assert sql.output_schema({}) is None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT amout FROM input", 'column "amout" does not exist (upstream columns: id, status'),
        ("SELEC id FROM input", "syntax error"),
        ("SELECT id FROM nowhere", "nowhere"),
    ],
)
def test_design_time_errors_name_the_query_field(h, query, message):
    with pytest.raises(SchemaError) as err:
        h.make(Sql, {"query": query}).output_schema({"in": SCHEMA})
    assert err.value.field == "query"
    assert message in err.value.message


def test_bad_config():
    with pytest.raises(msgspec.ValidationError, match=r"`\$\.query`"):
        Sql.parse_config({"query": ""})
    with pytest.raises(msgspec.ValidationError, match="unknown field `sql`"):
        Sql.parse_config({"sql": "SELECT 1"})
