"""Log record counts and the first records of each batch."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import pyarrow as pa

from dataflow.processor import ProcessorConfig, ProcessorSpec, Sink, ui


class ConsoleConfig(ProcessorConfig, kw_only=True):
    """Logs one line per batch with its record count and the running total, then its first
    `rows` records as JSON: a quick look at what reaches the end of a flow.
    """

    rows: Annotated[int, ui("Records shown", "Per batch; 0 = counts only.", ge=0, le=1000)] = 5
    label: Annotated[str, ui("Label", "Starts every line; empty = the node id.")] = ""


class Console(Sink[ConsoleConfig]):
    spec = ProcessorSpec(
        name="console",
        category="sink",
        status="stable",
        icon="terminal",
        summary="Log record counts and sample records.",
        inputs=("in",),
        examples=[{}, {"rows": 0, "label": "paid orders"}],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.total = 0

    def write(self, batch: pa.RecordBatch) -> None:
        self.total += batch.num_rows
        label = self.config.label or self.context.node_id
        self.log.info("%s: %d records (%d in total)", label, batch.num_rows, self.total)
        for row in batch.slice(0, self.config.rows).to_pylist():
            self.log.info("%s: %s", label, msgspec.json.encode(row, enc_hook=str).decode())
