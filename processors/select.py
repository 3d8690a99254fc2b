"""Keep, rename, cast and compute columns with one DuckDB SELECT per batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec
import pyarrow as pa

from dataflow.processor import ProcessorSpec, Transform, TransformConfig, ui
from dataflow_processors._sql import bind_check, query


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SelectColumn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One output column: an input column (renamed or cast if asked) or a computed one."""

    name: Annotated[str, ui("Name", "Output column name.", min_length=1)]
    expr: Annotated[
        str,
        ui(
            "Expression",
            "DuckDB SQL over the input columns; empty = the input column `name`."
            " To rename, write the old name here.",
            widget="sql",
            placeholder="amount * 1.2",
        ),
    ] = ""
    cast: Annotated[
        str,
        ui("Cast to", "A DuckDB type: BIGINT, DOUBLE, VARCHAR, DATE, TIMESTAMP, DECIMAL(10,2)..."),
    ] = ""

    def sql(self) -> str:
        value = self.expr or quote(self.name)
        if self.cast:
            value = f"CAST(({value}) AS {self.cast})"
        return f"{value} AS {quote(self.name)}"


class SelectConfig(TransformConfig, kw_only=True):
    """Builds each row's columns from `columns`, in their order. With `keep_others`, the
    input columns stay too, in input order, a listed column replacing the input column of
    the same name, and new columns follow (a renamed column's old name then stays as well).
    """

    columns: Annotated[list[SelectColumn], ui("Columns", "Output columns.", min_length=1)]
    keep_others: Annotated[
        bool, ui("Keep other columns", "Also pass on the input columns not listed.")
    ] = False

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"columns: {dupes[0]!r} is listed twice")


class Select(Transform[SelectConfig]):
    spec = ProcessorSpec(
        name="select",
        category="transform",
        status="stable",
        icon="columns",
        summary="Keep, rename, cast and compute columns.",
        inputs=("in",),
        outputs=("out",),
        examples=[
            {
                "columns": [
                    {"name": "order_id"},
                    {"name": "customer", "expr": "cust_id"},
                    {"name": "amount", "cast": "DECIMAL(10,2)"},
                ]
            },
            {"columns": [{"name": "gross", "expr": "amount * 1.2"}], "keep_others": True},
        ],
    )

    def sql(self, input_names: list[str]) -> str:
        listed = {c.name: c.sql() for c in self.config.columns}
        items = list(listed.values())
        if self.config.keep_others:
            kept = [listed.pop(n) if n in listed else quote(n) for n in input_names]
            items = kept + list(listed.values())
        return f"SELECT {', '.join(items)} FROM input"

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        schema = inputs.get("in")
        if schema is None:
            return None
        # Column by column first, so that an error names the entry that causes it.
        for i, column in enumerate(self.config.columns):
            value = column.expr or quote(column.name)
            place = f"columns[{i}].{'expr' if column.expr else 'name'}"
            bind_check(f"SELECT {value} FROM input", schema, place)
            if column.cast:
                bind_check(f"SELECT {column.sql()} FROM input", schema, f"columns[{i}].cast")
        return {"out": bind_check(self.sql(schema.names), schema, "columns")}

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.Table]:
        return {"out": query(self.sql(batch.schema.names), batch)}
