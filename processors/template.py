"""Render a sandboxed Jinja template for every row into a new text column."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Annotated, Any

import jinja2
import pyarrow as pa
import pyarrow.compute as pc
from jinja2 import meta

from dataflow.processor import ProcessorSpec, SchemaError, Transform, TransformConfig, ui
from dataflow.processor.base import with_error_column
from dataflow_processors._jinja_sandbox import BoundedEnvironment, Budget, RenderCancelled


def environment() -> BoundedEnvironment:
    # Sandboxed: a template cannot reach Python internals. Strict: a misspelt name is an
    # error, not silently empty text. Null renders as empty text, not "None".
    return BoundedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=lambda value: "" if value is None else value,
    )


class TemplateConfig(TransformConfig, kw_only=True):
    """Renders `template` for every row into the text column `output_column` (replacing a
    column of that name). Columns are variables (`{{ name }}`); `row` holds the whole row,
    for names that are not identifiers (`{{ row["order id"] }}`). With `on_error: route`,
    rows whose render fails go to `failure` with an `error` column and the rest go on.
    This is the one built-in that works row by row: prefer `select` for plain formatting.

    Templates run in Jinja's immutable sandbox: no attribute starting with `_` (so no
    `__class__`, `__globals__`...), no `str.format` tricks, no changing lists or dicts in
    place; such a template fails with SecurityError (routed like any row error). Globals
    are `range` (at most 100000 items), `dict` and `namespace` only. Each row's render is
    bounded: `render_timeout_seconds` of time, `max_output_chars` of output (every string
    or list it builds on the way is held to the same size), and a stop or a failure of
    the run interrupts it within a moment.
    """

    template: Annotated[
        str,
        ui(
            "Template",
            "Jinja syntax: {{ column }}, {% if %}, filters such as {{ amount | round(2) }}.",
            widget="template",
            placeholder="Dear {{ name }}, your order {{ order_id }} has shipped.",
            min_length=1,
        ),
    ]
    output_column: Annotated[str, ui("Output column", min_length=1)] = "text"
    render_timeout_seconds: Annotated[
        float,
        ui(
            "Render timeout (s)",
            "Longest one row's render may take; then that row fails.",
            advanced=True,
            ge=0.1,
            le=600,
        ),
    ] = 10.0
    max_output_chars: Annotated[
        int,
        ui(
            "Max output characters",
            "Longest text one row may render to (and longest string or list built on the "
            "way); beyond it, that row fails.",
            advanced=True,
            ge=1,
            le=10_000_000,
        ),
    ] = 1_000_000


class Template(Transform[TemplateConfig]):
    spec = ProcessorSpec(
        name="template",
        category="transform",
        status="stable",
        icon="file-text",
        summary="Render a Jinja template per row into a text column.",
        inputs=("in",),
        outputs=("out",),
        examples=[
            {"template": "Order {{ order_id }}: {{ '%.2f' | format(amount) }} EUR"},
            {
                "template": "{% if vip %}Dear {{ name }}{% else %}Hello{% endif %}",
                "output_column": "greeting",
                "on_error": "route",
            },
        ],
    )

    @functools.cached_property
    def environment(self) -> BoundedEnvironment:
        return environment()

    @functools.cached_property
    def compiled(self) -> jinja2.Template:
        return self.environment.from_string(self.config.template)

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        env = environment()
        try:
            ast = env.parse(self.config.template)
        except jinja2.TemplateSyntaxError as exc:
            raise SchemaError(f"line {exc.lineno}: {exc.message}", field="template") from exc
        schema = inputs.get("in")
        if schema is None:
            return None
        known = {*schema.names, "row", *env.globals}
        if unknown := sorted(meta.find_undeclared_variables(ast) - known):
            message = f"template uses {', '.join(unknown)}: no such column (columns: "
            raise SchemaError(message + f"{', '.join(schema.names) or 'none'})", field="template")
        return {"out": self.with_text(schema.empty_table(), pa.array([], pa.string())).schema}

    def with_text(self, data: Any, text: pa.Array) -> Any:
        name = self.config.output_column
        if name in data.schema.names:
            return data.set_column(data.schema.get_field_index(name), name, text)
        return data.append_column(name, text)

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch]:
        texts: list[str | None] = []
        errors: dict[int, str] = {}
        config, template = self.config, self.compiled
        env = template.environment  # the one it was compiled by (it holds the budget)
        assert isinstance(env, BoundedEnvironment)
        for i, row in enumerate(batch.to_pylist()):  # inherently per row: Jinja renders dicts
            budget = Budget(
                config.render_timeout_seconds, config.max_output_chars, self.context.cancelled
            )
            try:
                texts.append(env.render(template, {**row, "row": row}, budget))
            except RenderCancelled:
                raise  # the whole batch is abandoned, not one row
            except Exception as exc:
                if self.config.on_error != "route":
                    raise ValueError(f"template, row {i}: {type(exc).__name__}: {exc}") from exc
                texts.append(None)
                errors[i] = f"{type(exc).__name__}: {exc}"
        out = self.with_text(batch, pa.array(texts, pa.string()))
        if not errors:
            return {"out": out}
        failed = pa.array([i in errors for i in range(batch.num_rows)])
        bad = batch.filter(failed)
        return {
            "out": out.filter(pc.invert(failed)),
            "failure": with_error_column(bad, pa.array(list(errors.values()), pa.string())),
        }
