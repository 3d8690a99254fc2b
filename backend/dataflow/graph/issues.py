"""Validation problems, each naming its place (JSON path, node id, edge id)."""

from __future__ import annotations

import re
from typing import Literal

import msgspec

Severity = Literal["error", "warning"]


class Issue(msgspec.Struct, kw_only=True, omit_defaults=True):
    path: str
    code: str
    message: str
    severity: Severity = "error"
    node_id: str | None = None
    edge_id: str | None = None


class Column(msgspec.Struct):
    name: str
    type: str


class NodePorts(msgspec.Struct, kw_only=True):
    """The ports a node has for its config: the ones the canvas draws."""

    inputs: list[str]
    outputs: list[str]


class ValidationReport(msgspec.Struct, kw_only=True):
    valid: bool
    errors: list[Issue]
    warnings: list[Issue]
    #: Propagated output schemas: node id -> port -> columns (only where known).
    schemas: dict[str, dict[str, list[Column]]] = msgspec.field(default_factory=dict)
    #: Ports of every node whose config decodes: node id -> its inputs and outputs.
    ports: dict[str, NodePorts] = msgspec.field(default_factory=dict)


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_FIELD = re.compile(r"(?:unknown|required) field `(?P<field>[^`]+)`")


def msgspec_issue(
    exc: msgspec.ValidationError | msgspec.DecodeError,
    prefix: str,
    *,
    node_id: str | None = None,
    edge_id: str | None = None,
) -> Issue:
    """Map a msgspec error ("Expected `int`, got `str` - at `$.batch_size`") to an Issue whose
    path continues `prefix` (e.g. nodes[2].config.batch_size)."""
    text = str(exc)
    match = _AT.match(text)
    message, sub = (match["msg"], match["path"] or "") if match else (text, "")
    field = _FIELD.search(message)
    if field:  # msgspec names the missing/unknown key in the message, not in the path
        sub = f"{sub}.{field['field']}"
    path = f"{prefix}{sub}" if prefix else sub.lstrip(".") or "$"
    code = "invalid_config" if ".config" in prefix else "invalid_document"
    return Issue(path=path, code=code, message=message, node_id=node_id, edge_id=edge_id)
