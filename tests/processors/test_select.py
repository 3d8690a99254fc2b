"""select: keep, rename, cast and compute columns in one SELECT."""

from decimal import Decimal

import msgspec
import pyarrow as pa
import pytest

from dataflow.processor import SchemaError
from dataflow_processors.select import Select

ROWS = [{"id": 1, "cust": "a", "amount": 10.5}, {"id": 2, "cust": "b", "amount": 3.0}]
SCHEMA = pa.schema([("id", pa.int64()), ("cust", pa.string()), ("amount", pa.float64())])


async def test_keep_rename_cast_compute(h):
    config = {
        "columns": [
            {"name": "customer", "expr": "cust"},
            {"name": "amount", "cast": "DECIMAL(10,2)"},
            {"name": "gross", "expr": "amount * 2"},
        ]
    }
    out = await h.transform_rows(Select, config, ROWS)
    assert out == {
        "out": [
            {"customer": "a", "amount": Decimal("10.50"), "gross": 21.0},
            {"customer": "b", "amount": Decimal("3.00"), "gross": 6.0},
        ]
    }


async def test_keep_others_replaces_in_place_and_appends_new(h):
    config = {
        "keep_others": True,
        "columns": [{"name": "new", "expr": "id * 10"}, {"name": "cust", "expr": "upper(cust)"}],
    }
    out = await h.transform_rows(Select, config, ROWS)
    assert out["out"] == [
        {"id": 1, "cust": "A", "amount": 10.5, "new": 10},
        {"id": 2, "cust": "B", "amount": 3.0, "new": 20},
    ]
    assert list(out["out"][0]) == ["id", "cust", "amount", "new"]


def test_output_schema(h):
    config = {"columns": [{"name": "id", "cast": "VARCHAR"}, {"name": "x", "expr": "amount / 2"}]}
    assert h.make(Select, config).output_schema({"in": SCHEMA}) == {
        "out": pa.schema([("id", pa.string()), ("x", pa.float64())])
    }


@pytest.mark.parametrize(
    ("columns", "field", "message"),
    [
        ([{"name": "id"}, {"name": "x", "expr": "amout + 1"}], "columns[1].expr", '"amout"'),
        ([{"name": "id"}, {"name": "nope"}], "columns[1].name", '"nope" does not exist'),
        ([{"name": "id", "cast": "NUMBERISH"}], "columns[0].cast", "NUMBERISH"),
    ],
)
def test_design_time_errors_name_the_entry(h, columns, field, message):
    with pytest.raises(SchemaError) as err:
        h.make(Select, {"columns": columns}).output_schema({"in": SCHEMA})
    assert err.value.field == field
    assert message in err.value.message


def test_bad_config_names_the_field():
    with pytest.raises(msgspec.ValidationError, match=r"`\$\.columns`"):
        Select.parse_config({"columns": []})
    with pytest.raises(
        msgspec.ValidationError, match=r"missing required field `name` - at `\$\.columns\[0\]`"
    ):
        Select.parse_config({"columns": [{"expr": "1"}]})
    with pytest.raises(msgspec.ValidationError, match="'id' is listed twice"):
        Select.parse_config({"columns": [{"name": "id"}, {"name": "id", "expr": "2"}]})
