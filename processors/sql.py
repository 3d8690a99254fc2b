"""Run a DuckDB SQL query over each batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import pyarrow as pa

from dataflow.processor import ProcessorSpec, Transform, TransformConfig, ui
from dataflow_processors._sql import bind_check, query


class SqlConfig(TransformConfig, kw_only=True):
    """Runs `query` on every batch, which it sees as the table `input`; the result goes to
    `out`. The query sees one batch at a time: aggregates, DISTINCT and ORDER BY apply
    within a batch, not across the stream. Missing columns are reported before the flow runs.
    """

    query: Annotated[
        str,
        ui(
            "Query",
            "A DuckDB SELECT over the table `input`.",
            widget="sql",
            placeholder="SELECT order_id, amount * 1.2 AS gross FROM input WHERE status = 'paid'",
            min_length=1,
        ),
    ]

    def __post_init__(self) -> None:
        # A trailing `;` is habit, not meaning: it would break the query's use as a subquery.
        self.query = self.query.strip().rstrip(";").rstrip()


class Sql(Transform[SqlConfig]):
    spec = ProcessorSpec(
        name="sql",
        category="transform",
        status="stable",
        icon="database",
        title="SQL",
        summary="Transform each batch with a DuckDB SQL query.",
        inputs=("in",),
        outputs=("out",),
        examples=[
            {"query": "SELECT order_id, amount * 1.2 AS gross FROM input WHERE status = 'paid'"},
            {"query": "SELECT status, count(*) AS n, sum(amount) AS total FROM input GROUP BY 1"},
        ],
    )

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        schema = inputs.get("in")
        if schema is None:
            return None
        return {"out": bind_check(self.config.query, schema, "query")}

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.Table]:
        return {"out": query(self.config.query, batch)}  # DuckDB scans the batch zero-copy
