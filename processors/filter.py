"""Keep the rows for which a SQL boolean expression is true."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import ProcessorSpec, Transform, TransformConfig, ui
from dataflow_processors._sql import bind_check, evaluate_mask


class FilterConfig(TransformConfig, kw_only=True):
    """Rows for which `condition` is not true (false or null) go to the `unmatched` port."""

    condition: Annotated[
        str,
        ui(
            "Condition",
            "A DuckDB SQL boolean expression over the input columns.",
            widget="sql",
            placeholder="status = 'paid' AND amount > 100",
            min_length=1,
        ),
    ]


class Filter(Transform[FilterConfig]):
    spec = ProcessorSpec(
        name="filter",
        category="transform",
        status="stable",
        icon="filter",
        summary="Route rows by a SQL condition.",
        inputs=("in",),
        outputs=("matched", "unmatched"),
        examples=[{"condition": "amount > 100"}],
    )

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        schema = inputs.get("in")
        if schema is None:
            return None
        bind_check(f"SELECT ({self.config.condition})::BOOLEAN FROM input", schema, "condition")
        return {"matched": schema, "unmatched": schema}

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch]:
        mask = evaluate_mask(self.config.condition, batch)  # one DuckDB call per batch
        return {"matched": batch.filter(mask), "unmatched": batch.filter(pc.invert(mask))}
