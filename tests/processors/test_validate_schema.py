"""validate_schema: rows checked against declared fields; invalid ones list every reason."""

import re
from datetime import date, datetime

import msgspec
import pyarrow as pa
import pytest

from dataflow.processor import SchemaError
from dataflow.testing import run_transform
from dataflow_processors.validate_schema import ValidateSchema

FIELDS = [
    {"name": "id", "type": "int64", "required": True},
    {"name": "amount", "type": "double", "min": 0, "max": 1000},
    {"name": "email", "type": "string", "pattern": "^.+@.+$"},
    {"name": "status", "type": "string", "allowed": ["open", "paid"]},
]


def validate(config, rows):
    return run_transform(ValidateSchema, config, rows)


def test_every_reason_of_every_row():
    rows = [
        {"id": 1, "amount": 10, "email": "a@b.c", "status": "paid"},
        {"id": 2, "amount": 1200, "email": "nope", "status": "lost"},
        {"id": None, "amount": -1, "email": None, "status": None},
    ]
    assert validate({"fields": FIELDS}, rows) == {
        "valid": [{"id": 1, "amount": 10.0, "email": "a@b.c", "status": "paid"}],
        "invalid": [
            {**rows[1], "errors": "amount: 1200 > max 1000; email: does not match ^.+@.+$;"
                                  " status: lost is not one of open, paid"},
            {**rows[2], "errors": "id: is required; amount: -1 < min 0"},
        ],
    }  # fmt: skip


def test_values_convert_to_the_declared_type_exactly():
    fields = [
        {"name": "n", "type": "int64"},
        {"name": "x", "type": "double"},
        {"name": "ok", "type": "bool"},
        {"name": "day", "type": "date"},
        {"name": "at", "type": "timestamp"},
    ]
    rows = [
        {"n": "12", "x": "1.5", "ok": "true", "day": "2024-05-01", "at": "2024-05-01 10:00:00"},
        {"n": "12.5", "x": "abc", "ok": "maybe", "day": "2024-13-01", "at": "soon"},
    ]
    out = validate({"fields": fields}, rows)
    assert out["valid"] == [
        {"n": 12, "x": 1.5, "ok": True, "day": date(2024, 5, 1), "at": datetime(2024, 5, 1, 10)}
    ]
    assert out["invalid"][0]["errors"] == (
        'n: "12.5" is not int64; x: "abc" is not double; ok: "maybe" is not bool;'
        ' day: "2024-13-01" is not date; at: "soon" is not timestamp'
    )
    floats = validate({"fields": fields[:1]}, [{"n": 3.0}, {"n": 3.5}])
    assert floats["valid"] == [{"n": 3}]
    assert floats["invalid"] == [{"n": 3.5, "errors": "n: 3.5 is not int64"}]


def test_timestamps_keep_their_unit_and_time_zone():
    schema = pa.schema([("at", pa.timestamp("ms", "Europe/Paris"))])
    batch = pa.RecordBatch.from_pylist([{"at": datetime(2024, 5, 1, 10)}], schema=schema)
    proc = ValidateSchema(
        ValidateSchema.parse_config({"fields": [{"name": "at", "type": "timestamp"}]})
    )
    valid = proc.transform(batch)["valid"]
    assert valid.schema == schema == proc.output_schema({"in": schema})["valid"]
    assert valid.column("at").to_pylist() == batch.column("at").to_pylist()


def test_a_number_is_not_a_string():
    out = validate({"fields": [{"name": "code", "type": "string"}]}, [{"code": 7}])
    assert out == {"valid": [], "invalid": [{"code": 7, "errors": "code: 7 is not string"}]}


def test_string_length_bounds():
    fields = [{"name": "code", "type": "string", "min": 2, "max": 3}]
    out = validate({"fields": fields}, [{"code": "ab"}, {"code": "a"}, {"code": "abcd"}])
    assert out["valid"] == [{"code": "ab"}]
    assert [r["errors"] for r in out["invalid"]] == [
        "code: length 1 < min 2",
        "code: length 4 > max 3",
    ]


ROWS = [{"id": 1, "note": None, "extra": None}, {"id": 2, "note": "x", "extra": 5}]


@pytest.mark.parametrize(
    ("policy", "valid", "invalid"),
    [
        ("allow", ROWS, []),
        ("drop", [{"id": 1, "note": None}, {"id": 2, "note": "x"}], []),
        ("reject", [{"id": 1, "note": None}],
         [{**ROWS[1], "errors": "extra: column is not declared"}]),
    ],
)  # fmt: skip
def test_extra_columns(policy, valid, invalid):
    fields = [{"name": "id", "type": "int64"}, {"name": "note", "type": "string"}]
    out = validate({"fields": fields, "extra_columns": policy}, ROWS)
    assert out == {"valid": valid, "invalid": invalid}


def test_missing_columns():
    fields = [
        {"name": "id", "type": "int64"},
        {"name": "score", "type": "double"},
        {"name": "tags", "type": "string"},
    ]
    added = validate({"fields": fields}, [{"id": 1}])
    assert added == {"valid": [{"id": 1, "score": None, "tags": None}], "invalid": []}
    rejected = validate({"fields": fields, "missing_nullable": "reject"}, [{"id": 1}])
    assert rejected["invalid"] == [
        {"id": 1, "errors": "score: column is missing; tags: column is missing"}
    ]
    required = validate({"fields": [*fields[:2], {**fields[2], "required": True}]}, [{"id": 1}])
    assert required["invalid"] == [{"id": 1, "errors": "tags: is required"}]


def test_output_schemas_follow_the_declaration():
    schema = pa.schema(
        [("id", pa.string()), ("amount", pa.int32()), ("email", pa.large_string()),
         ("status", pa.string()), ("more", pa.bool_())]
    )  # fmt: skip
    proc = ValidateSchema(ValidateSchema.parse_config({"fields": FIELDS}))
    schemas = proc.output_schema({"in": schema})
    assert schemas == {
        "valid": pa.schema(
            [("id", pa.int64()), ("amount", pa.float64()), ("email", pa.string()),
             ("status", pa.string()), ("more", pa.bool_())]
        ),
        "invalid": schema.append(pa.field("errors", pa.string())),
    }  # fmt: skip
    batch = pa.RecordBatch.from_pylist(
        [{"id": "1", "amount": 5, "email": "a@b", "status": "open", "more": True}], schema=schema
    )
    assert proc.transform(batch)["valid"].schema == schemas["valid"]


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({"fields": FIELDS[:1]}, "fields[0].name", 'required column "id" does not exist'),
        ({"fields": [{"name": "id", "type": "int64"}], "missing_nullable": "reject"},
         "fields[0].name", 'declared column "id" does not exist'),
        ({"fields": [{"name": "at", "type": "bool"}]}, "fields[0].type",
         '"at" is timestamp.* can never be bool'),
        ({"fields": [{"name": "at", "type": "timestamp"}], "extra_columns": "reject"},
         "extra_columns", "undeclared upstream columns: n"),
    ],
)  # fmt: skip
def test_design_time_errors_name_the_field(config, field, message):
    schema = pa.schema([("at", pa.timestamp("s")), ("n", pa.int64())])
    with pytest.raises(SchemaError, match=message) as caught:
        ValidateSchema(ValidateSchema.parse_config(config)).output_schema({"in": schema})
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("field", "message"),
    [
        # Each type has only its own rules: another's is an unknown field, at its place.
        ({"type": "string", "pattern": "("}, "pattern: Invalid regular expression"),
        ({"type": "int64", "pattern": "x"}, "unknown field `pattern` - at `$.fields[0]`"),
        ({"type": "bool", "min": 1}, "unknown field `min` - at `$.fields[0]`"),
        ({"type": "int64", "allowed": [1, "2"]}, "Expected `int | float`, got `str` - at"
                                                 " `$.fields[0].allowed[1]`"),
        ({"type": "int64", "allowed": [1, 2.5]}, "allowed[1]: 2.5 is not int64 - at `$.fields[0]`"),
        ({"type": "date", "allowed": ["2024-01-01"]}, "unknown field `allowed` - at `$.fields[0]`"),
        ({"type": "uuid"}, "Invalid value 'uuid' - at `$.fields[0].type`"),
        ({}, "missing required field `type` - at `$.fields[0]`"),
    ],
)  # fmt: skip
def test_config_errors(field, message):
    with pytest.raises(msgspec.ValidationError, match=re.escape(message)):
        ValidateSchema.parse_config({"fields": [{"name": "a", **field}]})
