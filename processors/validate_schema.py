"""Check records against a declared schema: valid ones pass, invalid ones carry every reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, TypedDict, cast

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import ProcessorSpec, SchemaError, Transform, TransformConfig, ui
from dataflow_processors._arrow import quote
from dataflow_processors._sql import query

FieldType = Literal["int64", "double", "string", "bool", "timestamp", "date"]
SQL_TYPES = {
    "int64": "BIGINT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
}
ARROW_TYPES = {
    "int64": pa.int64(),
    "double": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}


def literal(value: object) -> str:
    """A config value as a SQL literal."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def number(value: float) -> str:
    """1000.0 reads 1000 in messages."""
    return str(int(value)) if float(value).is_integer() else repr(value)


Minimum = Annotated[float | None, ui("Minimum", "Smaller values are invalid.")]
Maximum = Annotated[float | None, ui("Maximum", "Larger values are invalid.")]
MinLength = Annotated[float | None, ui("Minimum length", "Shorter strings are invalid.")]
MaxLength = Annotated[float | None, ui("Maximum length", "Longer strings are invalid.")]
Numbers = Annotated[list[int | float] | None, ui("Allowed values", "The only values accepted.")]


class Rules(TypedDict):
    """Every rule a field type can have; None where the field's type has no such rule."""

    min: float | None
    max: float | None
    pattern: str | None
    allowed: list[int | float] | list[str] | list[bool] | None


class DeclaredField(
    msgspec.Struct, tag_field="type", kw_only=True, forbid_unknown_fields=True, frozen=True
):
    """One declared column and the rules its values follow (null values pass every rule but
    `required`): one subclass per `type`, holding the rules that type has."""

    name: Annotated[str, ui("Name", "Column name.", min_length=1)]
    required: Annotated[bool, ui("Required", "Null or missing values are invalid.")] = False

    @property
    def type(self) -> FieldType:
        return cast(FieldType, self.__struct_config__.tag)

    # Rules a type does not have read as absent, so the query builder asks every field alike.
    @property
    def rules(self) -> Rules:
        return Rules(
            min=getattr(self, "min", None),
            max=getattr(self, "max", None),
            pattern=getattr(self, "pattern", None),
            allowed=getattr(self, "allowed", None),
        )


class ValidateSchemaInt64(DeclaredField, tag="int64", kw_only=True, frozen=True):
    """64-bit integers."""

    min: Minimum = None
    max: Maximum = None
    allowed: Numbers = None

    def __post_init__(self) -> None:
        for j, value in enumerate(self.allowed or []):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"allowed[{j}]: {value!r} is not int64")


class ValidateSchemaDouble(DeclaredField, tag="double", kw_only=True, frozen=True):
    """64-bit floating point numbers."""

    min: Minimum = None
    max: Maximum = None
    allowed: Numbers = None


class ValidateSchemaString(DeclaredField, tag="string", kw_only=True, frozen=True):
    """Text (UTF-8)."""

    min: MinLength = None
    max: MaxLength = None
    pattern: Annotated[
        str | None,
        ui(
            "Pattern",
            "Regular expression (RE2) a string must contain a match of; anchor it with ^...$"
            " to match the whole value.",
            placeholder="^[^@]+@[^@]+$",
        ),
    ] = None
    allowed: Annotated[list[str] | None, ui("Allowed values", "The only values accepted.")] = None

    def __post_init__(self) -> None:
        if self.pattern is not None:
            try:
                pc.match_substring_regex(pa.array([""]), self.pattern)
            except pa.ArrowInvalid as exc:
                raise ValueError(f"pattern: {exc}") from None


class ValidateSchemaBool(DeclaredField, tag="bool", kw_only=True, frozen=True):
    """true or false."""

    allowed: Annotated[list[bool] | None, ui("Allowed values", "The only value accepted.")] = None


class ValidateSchemaTimestamp(DeclaredField, tag="timestamp", kw_only=True, frozen=True):
    """Points in time; a timestamp column keeps its unit and time zone."""


class ValidateSchemaDate(DeclaredField, tag="date", kw_only=True, frozen=True):
    """Calendar days."""


Declared = (
    ValidateSchemaInt64
    | ValidateSchemaDouble
    | ValidateSchemaString
    | ValidateSchemaBool
    | ValidateSchemaTimestamp
    | ValidateSchemaDate
)


class ValidateSchemaConfig(TransformConfig, kw_only=True):
    """Checks every record against `fields`. Records that follow every rule go to `valid`
    with the declared columns converted to their types, in declared order; the others go to
    `invalid` as they came, plus an `errors` column listing every reason, e.g.
    `amount: 1200 > max 1000; email: does not match ^.+@.+$`.

    Schema evolution: `extra_columns` says what happens to undeclared columns (allow: passed
    on after the declared ones; drop: removed; reject: a record with a value in one is
    invalid). `missing_nullable` says what happens when an optional declared column is
    absent (add: valid records get it, null; reject: every record is invalid). An absent
    required column makes every record invalid. When the upstream schema is known, columns
    that can never be valid are reported before the flow runs.
    """

    fields: Annotated[
        list[Declared],
        ui(
            "Fields",
            "The declared columns, in output order. `type` picks the rules that apply; values"
            ' must be of it or convert to it exactly: text such as "12" or "2024-05-01" is'
            " read, 12.0 is an int64, 12.5 is not.",
            min_length=1,
        ),
    ]
    extra_columns: Annotated[
        Literal["allow", "drop", "reject"],
        ui(
            "Extra columns",
            "allow: pass undeclared columns on; drop: remove them; reject:"
            " records with a value in one are invalid.",
        ),
    ] = "allow"
    missing_nullable: Annotated[
        Literal["add", "reject"],
        ui("Missing optional columns", "add: add them, null; reject: records are invalid."),
    ] = "add"

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        for i, f in enumerate(self.fields):
            if names.count(f.name) > 1:
                raise ValueError(f"fields[{i}].name: {f.name!r} is declared twice")


def family(kind: pa.DataType) -> str:
    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return "text"
    if pa.types.is_timestamp(kind):
        return "timestamp"
    if pa.types.is_date(kind):
        return "date"
    if pa.types.is_null(kind):
        return "null"
    return "other"


def converted(column: str, kind: pa.DataType, declared: str) -> str | None:
    """SQL for the column's values as the declared type (null where they do not convert
    exactly), or None when no value of this type can be one of the declared type."""
    source, col = family(kind), quote(column)
    if source == "null":
        return f"NULL::{SQL_TYPES[declared]}"
    if declared in ("int64", "double"):
        if source not in ("integer", "number", "text"):
            return None
        value = f"TRY_CAST({col} AS {SQL_TYPES[declared]})"
        if declared == "int64" and source != "integer":
            # TRY_CAST rounds 12.5 to 13: an int64 must come back equal.
            value = f"CASE WHEN {value} = TRY_CAST({col} AS DOUBLE) THEN {value} END"
        return value
    if declared == "string":
        return col if source == "text" else None
    if declared == "bool":
        if source == "bool":
            return col
        return f"TRY_CAST({col} AS BOOLEAN)" if source == "text" else None
    if source == declared:
        return col  # timestamps and dates keep their unit and time zone
    return f"TRY_CAST({col} AS {SQL_TYPES[declared]})" if source == "text" else None


class ValidateSchema(Transform[ValidateSchemaConfig]):
    """One DuckDB query per batch computes every converted column and, per rule, a message
    or NULL; concat_ws joins a row's messages. Valid and invalid rows are then split with
    one Arrow filter each."""

    spec = ProcessorSpec(
        name="validate_schema",
        category="transform",
        status="beta",
        icon="check",
        summary="Check records against a declared schema; invalid ones carry their errors.",
        inputs=("in",),
        outputs=("valid", "invalid"),
        examples=[
            {
                "fields": [
                    {"name": "order_id", "type": "int64", "required": True},
                    {"name": "amount", "type": "double", "required": True, "min": 0, "max": 1000},
                    {"name": "email", "type": "string", "pattern": "^.+@.+$"},
                    {"name": "status", "type": "string", "allowed": ["open", "paid"]},
                ],
                "extra_columns": "drop",
            }
        ],
    )

    # -- design time ---------------------------------------------------------------------
    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        schema = inputs.get("in")
        if schema is None:
            return None
        upstream = ", ".join(schema.names) or "none"
        for i, f in enumerate(self.config.fields):
            if f.name not in schema.names:
                if f.required or self.config.missing_nullable == "reject":
                    what = "required" if f.required else "declared"
                    raise SchemaError(
                        f'{what} column "{f.name}" does not exist (upstream columns: {upstream})',
                        field=f"fields[{i}].name",
                    )
            elif converted(f.name, kind := schema.field(f.name).type, f.type) is None:
                raise SchemaError(
                    f'"{f.name}" is {kind}: its values can never be {f.type}',
                    field=f"fields[{i}].type",
                )
        extras = self.extras(schema)
        if extras and self.config.extra_columns == "reject":
            raise SchemaError(
                f"undeclared upstream columns: {', '.join(extras)}", field="extra_columns"
            )
        return {
            "valid": self.valid_schema(schema),
            "invalid": schema.append(pa.field("errors", pa.string())),
        }

    def extras(self, schema: pa.Schema) -> list[str]:
        declared = {f.name for f in self.config.fields}
        return [n for n in schema.names if n not in declared]

    def valid_schema(self, schema: pa.Schema) -> pa.Schema:
        fields = []
        for f in self.config.fields:
            kind = ARROW_TYPES[f.type]
            upstream = schema.field(f.name).type if f.name in schema.names else None
            if f.type == "timestamp" and upstream is not None and family(upstream) == f.type:
                kind = upstream  # a timestamp keeps its unit and time zone
            fields.append(pa.field(f.name, kind))
        if self.config.extra_columns == "allow":
            fields += [schema.field(n) for n in self.extras(schema)]
        return pa.schema(fields)

    # -- the stream ----------------------------------------------------------------------
    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.Table]:
        schema = batch.schema
        values, messages = [], []
        for i, f in enumerate(self.config.fields):
            if f.name not in schema.names:
                if f.required:
                    messages.append(literal(f"{f.name}: is required"))
                elif self.config.missing_nullable == "reject":
                    messages.append(literal(f"{f.name}: column is missing"))
                continue
            kind = schema.field(f.name).type
            value = converted(f.name, kind, f.type) or f"NULL::{SQL_TYPES[f.type]}"
            values.append(f"{value} AS __df_v{i}")
            messages += self.rules(f, quote(f.name), f"__df_v{i}", family(kind) == "text")
        if self.config.extra_columns == "reject":
            for name in self.extras(schema):
                message = literal(f"{name}: column is not declared")
                messages.append(f"CASE WHEN {quote(name)} IS NOT NULL THEN {message} END")
        errors = f"concat_ws('; ', {', '.join(messages)})" if messages else "''"
        inner = f"SELECT *, {', '.join(values)} FROM input" if values else "SELECT * FROM input"
        present = [i for i, f in enumerate(self.config.fields) if f.name in schema.names]
        outer = ", ".join([*(f"__df_v{i}" for i in present), f"{errors} AS __df_errors"])
        checked = query(f"SELECT {outer} FROM ({inner})", batch)
        errors_column = checked.column("__df_errors")
        ok = pc.equal(errors_column, "")
        rows = pa.Table.from_batches([batch])
        bad = pc.invert(ok)
        invalid = rows.filter(bad).append_column(
            pa.field("errors", pa.string()), errors_column.filter(bad)
        )
        checked, rows = checked.filter(ok), rows.filter(ok)
        out_schema = self.valid_schema(schema)
        positions = {f.name: i for i, f in enumerate(self.config.fields)}
        columns = []
        for field in out_schema:
            position = positions.get(field.name)
            if position is None:
                columns.append(rows.column(field.name))  # an extra column, as it came
            elif field.name in schema.names:
                columns.append(checked.column(f"__df_v{position}").cast(field.type))
            else:
                columns.append(pa.nulls(rows.num_rows, field.type))  # missing_nullable: add
        return {"valid": pa.Table.from_arrays(columns, schema=out_schema), "invalid": invalid}

    def rules(self, f: DeclaredField, col: str, value: str, from_text: bool) -> list[str]:
        """Per rule, SQL giving its message when a row breaks it, else NULL."""
        name = f.name
        shown = f"'\"' || {col} || '\"'" if from_text else f"CAST({col} AS VARCHAR)"
        out = [
            f"CASE WHEN {col} IS NOT NULL AND {value} IS NULL THEN"
            f" {literal(name + ': ')} || {shown} || {literal(' is not ' + f.type)} END"
        ]
        if f.required:
            out.append(f"CASE WHEN {col} IS NULL THEN {literal(name + ': is required')} END")
        # Messages show the value as it came (1200, not the converted 1200.0).
        measure, what = (f"length({value})", "length ") if f.type == "string" else (value, "")
        shown_measure = measure if f.type == "string" else col
        rules = f.rules
        for bound, op, word in ((rules["min"], "<", "min"), (rules["max"], ">", "max")):
            if bound is not None:
                out.append(
                    f"CASE WHEN {measure} {op} {literal(bound)} THEN {literal(f'{name}: {what}')}"
                    f" || CAST({shown_measure} AS VARCHAR)"
                    f" || {literal(f' {op} {word} {number(bound)}')} END"
                )
        if (pattern := rules["pattern"]) is not None:
            out.append(
                f"CASE WHEN NOT regexp_matches({value}, {literal(pattern)}) THEN"
                f" {literal(f'{name}: does not match {pattern}')} END"
            )
        if (allowed := rules["allowed"]) is not None:
            options = ", ".join(literal(v) for v in allowed)
            listed = ", ".join(str(v) for v in allowed)
            out.append(
                f"CASE WHEN {value} NOT IN ({options}) THEN {literal(f'{name}: ')}"
                f" || CAST({col} AS VARCHAR) || {literal(f' is not one of {listed}')} END"
            )
        return out
