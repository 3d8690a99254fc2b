"""Send rows to named ports by SQL conditions, computed in one DuckDB query per batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import ProcessorConfig, ProcessorSpec, Transform, TransformConfig, ui
from dataflow_processors._sql import bind_check, query

RESERVED = ("unmatched", "failure")


class RouteRule(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Rows for which `condition` is true go to the output port `port`."""

    port: Annotated[
        str,
        ui(
            "Port",
            "Output port name: a lowercase letter, then letters, digits or `_`.",
            pattern=r"^[a-z][a-z0-9_]{0,31}$",
        ),
    ]
    condition: Annotated[
        str,
        ui(
            "Condition",
            "A DuckDB SQL boolean expression over the input columns.",
            widget="sql",
            placeholder="country = 'FR'",
            min_length=1,
        ),
    ]


class RouteConfig(TransformConfig, kw_only=True):
    """Sends each row to the port of the first rule whose condition is true (mode `first`) or
    of every such rule (mode `all`); rows matching none (false or null) go to `unmatched`.
    Each rule adds an output port named after it.
    """

    rules: Annotated[list[RouteRule], ui("Rules", "Checked in order.", min_length=1)]
    mode: Annotated[
        Literal["first", "all"],
        ui("Mode", "first: a row goes to one port at most; all: to every port that matches."),
    ] = "first"

    def __post_init__(self) -> None:
        ports = [r.port for r in self.rules]
        for port in ports:
            if port in RESERVED or ports.count(port) > 1:
                problem = "is reserved" if port in RESERVED else "is used by two rules"
                raise ValueError(f"rules: port {port!r} {problem}")


class Route(Transform[RouteConfig]):
    spec = ProcessorSpec(
        name="route",
        category="transform",
        status="stable",
        icon="split",
        summary="Send rows to named ports by SQL conditions.",
        inputs=("in",),
        outputs=("unmatched",),
        examples=[
            {
                "rules": [
                    {"port": "big", "condition": "amount >= 1000"},
                    {"port": "europe", "condition": "country IN ('FR', 'DE', 'IT')"},
                ]
            },
            {
                "mode": "all",
                "rules": [
                    {"port": "audit", "condition": "amount > 10000"},
                    {"port": "refunds", "condition": "status = 'refunded'"},
                ],
            },
        ],
    )

    @classmethod
    def output_ports(cls, config: ProcessorConfig) -> tuple[str, ...]:
        assert isinstance(config, RouteConfig)
        ports = (*(rule.port for rule in config.rules), "unmatched")
        return (*ports, "failure") if config.on_error == "route" else ports

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        schema = inputs.get("in")
        if schema is None:
            return None
        for i, rule in enumerate(self.config.rules):
            sql = f"SELECT ({rule.condition})::BOOLEAN FROM input"
            bind_check(sql, schema, f"rules[{i}].condition")
        return {port: schema for port in (*(r.port for r in self.config.rules), "unmatched")}

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch]:
        rules = self.config.rules
        masks = ", ".join(f"({rule.condition})::BOOLEAN AS m{i}" for i, rule in enumerate(rules))
        table = query(f"SELECT {masks} FROM input", batch)  # every rule's mask in one query
        out, taken = {}, pa.repeat(False, batch.num_rows)
        for rule, column in zip(rules, table.columns, strict=True):
            mask = pc.fill_null(column.combine_chunks(), False)
            if self.config.mode == "first":
                mask = pc.and_(mask, pc.invert(taken))
            out[rule.port] = batch.filter(mask)
            taken = pc.or_(taken, mask)
        out["unmatched"] = batch.filter(pc.invert(taken))
        return out
