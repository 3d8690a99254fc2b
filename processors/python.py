"""Run user Python code on each batch (only where the server and an admin allow it)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import ProcessorSpec, SchemaError, Transform, TransformConfig, ui

DISABLED = (
    "python processors are disabled: they need a server started with --allow-python on "
    "which an admin enabled python (PATCH /api/v1/server/settings)"
)


class PythonConfig(TransformConfig, kw_only=True):
    """Runs your code on each batch: it defines `transform(table)`, which takes a
    `pyarrow.Table` and returns one, sent to `out`. `pa` (pyarrow) and `pc`
    (pyarrow.compute) are imported for you. The code can do anything the server can, so it
    only runs on a server started with `--allow-python` on which an admin also enabled
    python (`PATCH /api/v1/server/settings {"python_enabled": true}`); until then a flow
    with a python node does not validate. Vectorised pyarrow calls are fast;
    a Python loop over rows is not (sql, select and route cover most needs).
    """

    code: Annotated[
        str,
        ui(
            "Code",
            "Python defining `def transform(table: pa.Table) -> pa.Table`.",
            widget="python",
            placeholder="def transform(table):\n    return table.filter(pc.field('amount') > 0)",
            min_length=1,
        ),
    ]


class Python(Transform[PythonConfig]):
    spec = ProcessorSpec(
        name="python",
        category="transform",
        status="beta",
        icon="code",
        summary="Transform each batch with your own Python function.",
        inputs=("in",),
        outputs=("out",),
        examples=[
            {
                "code": "def transform(table):\n"
                "    cents = pc.multiply(table['amount'], 100)\n"
                "    return table.append_column('cents', pc.cast(cents, pa.int64()))\n"
            }
        ],
    )

    def parse(self) -> ast.Module:
        try:
            module = ast.parse(self.config.code, filename="<code>")
        except SyntaxError as exc:
            raise SchemaError(f"line {exc.lineno}: {exc.msg}", field="code") from exc
        if not any(isinstance(s, ast.FunctionDef) and s.name == "transform" for s in module.body):
            raise SchemaError("the code must define `def transform(table)`", field="code")
        return module

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        self.parse()
        return None  # known only by running the code, which design time never does

    async def open(self) -> None:
        if not self.context.allow_python:
            raise PermissionError(DISABLED)
        namespace = {"pa": pa, "pc": pc, "__name__": f"python_node_{self.context.node_id}"}
        exec(compile(self.parse(), f"<python node {self.context.node_id}>", "exec"), namespace)
        self.function: Callable[[pa.Table], pa.Table] = namespace["transform"]

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.Table | pa.RecordBatch]:
        result = self.function(pa.Table.from_batches([batch]))
        if not isinstance(result, pa.Table | pa.RecordBatch):
            raise TypeError(f"transform() returned {type(result).__name__}, not a pyarrow.Table")
        return {"out": result}
