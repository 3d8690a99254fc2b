"""Mask a text column, keeping its last few characters: `4111111111111111` -> `************1111`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import ProcessorSpec, SchemaError, Transform, TransformConfig, ui


class MaskColumnConfig(TransformConfig, kw_only=True):
    """Replaces every character of `column` but the last `keep` with `mask`; nulls stay
    null and the other columns pass through unchanged. Masking is per batch and vectorised,
    so it runs at Arrow speed."""

    column: Annotated[
        str, ui("Column", "The text column to mask.", placeholder="card_number", min_length=1)
    ]
    keep: Annotated[
        int, ui("Keep", "Trailing characters left visible (0 masks everything).", ge=0, le=64)
    ] = 4
    mask: Annotated[
        str, ui("Mask character", "Replaces each hidden character.", min_length=1, max_length=1)
    ] = "*"


class MaskColumn(Transform[MaskColumnConfig]):
    spec = ProcessorSpec(
        name="mask_column",
        category="transform",
        status="beta",
        icon="eye-off",
        summary="Hide all but the last characters of a text column.",
        inputs=("in",),
        outputs=("out",),
        examples=[{"column": "card_number"}, {"column": "email", "keep": 0, "mask": "#"}],
    )

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        schema = inputs.get("in")
        if schema is None:
            return None  # upstream unknown yet: nothing to check
        name = self.config.column
        if name not in schema.names:
            columns = ", ".join(schema.names) or "none"
            raise SchemaError(f"no column {name!r} (upstream columns: {columns})", "column")
        kind = schema.field(name).type
        if kind != pa.string():
            raise SchemaError(f"column {name!r} is {kind}, not string: cast it first", "column")
        return {"out": schema}  # same columns, same types

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch]:
        index = batch.schema.get_field_index(self.config.column)
        if index < 0:
            # Raising is all it takes: the node's on_error policy decides what becomes of
            # the batch (fail the run, route it to `failure`, retry or drop it).
            columns = ", ".join(batch.schema.names)
            raise ValueError(f"no column {self.config.column!r} in the batch (columns: {columns})")
        values = batch.column(index)
        keep = self.config.keep
        # Whole-column calls, never a Python loop over rows: each runs in C++ on the batch.
        length = pc.utf8_length(values)
        hidden = pc.max_element_wise(pc.subtract(length, keep), 0, skip_nulls=False)
        masked = pc.binary_repeat(self.config.mask, hidden)
        if keep:
            tail = pc.utf8_slice_codeunits(values, start=-keep)
            masked = pc.binary_join_element_wise(masked, tail, "")
        return {"out": batch.set_column(index, batch.schema.field(index), masked)}
