"""The catalog entry of a processor: ports plus a clean config JSON Schema and a ui-schema."""

from __future__ import annotations

import inspect
from typing import Any

import msgspec

from dataflow.processor.base import Processor, Sink, Source
from dataflow.processor.spec import Category

SECRET_REF_SCHEMA: dict[str, Any] = {
    "title": "SecretRef",
    "description": "A named secret kept by the server (PUT /api/v1/secrets/NAME).",
    "type": "object",
    "properties": {
        "secret": {"title": "Secret name", "type": "string", "minLength": 1},
    },
    "required": ["secret"],
    "additionalProperties": False,
}


class ProcessorInfo(msgspec.Struct, kw_only=True):
    type: str
    category: Category
    title: str
    description: str
    summary: str
    status: str
    icon: str
    inputs: list[str]
    outputs: list[str]
    #: Extra output port that appears when the node's config has on_error = "route".
    failure_port: str = "failure"
    config_schema: dict[str, Any]
    ui_schema: dict[str, Any]
    examples: list[dict[str, Any]]


def category_of(cls: type[Processor]) -> Category:
    if issubclass(cls, Source):
        return "source"
    if issubclass(cls, Sink):
        return "sink"
    return "transform"


def config_schema(cls: type[Processor]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config struct's JSON Schema with the root inlined, and the ui hints split off."""
    schema = msgspec.json.schema(cls.config_type)
    defs = schema.pop("$defs", {})
    root_name = schema.get("$ref", "").rsplit("/", 1)[-1]
    root = defs.pop(root_name, schema)
    if defs:
        root["$defs"] = defs
    ui_schema: dict[str, Any] = {}
    for name, prop in root.get("properties", {}).items():
        hints = {k: prop.pop(k) for k in list(prop) if k.startswith(("ui:", "x-"))}
        if hints:
            ui_schema[name] = hints
        if hints.get("x-secret"):
            # In a flow document a secret field holds a reference, never the value.
            keep = {k: prop[k] for k in ("title", "description") if k in prop}
            prop.clear()
            prop.update(keep, anyOf=[{"$ref": "#/$defs/SecretRef"}, {"type": "null"}])
            root.setdefault("$defs", {})["SecretRef"] = SECRET_REF_SCHEMA
    return root, ui_schema


def describe(cls: type[Processor]) -> ProcessorInfo:
    schema, ui_schema = config_schema(cls)
    spec = cls.spec
    return ProcessorInfo(
        type=spec.name,
        category=category_of(cls),
        title=spec.display_title,
        description=inspect.cleandoc(cls.config_type.__doc__ or spec.summary),
        summary=spec.summary,
        status=spec.status,
        icon=spec.icon or category_of(cls),
        inputs=list(spec.inputs),
        outputs=list(spec.outputs),
        failure_port="failure",
        config_schema=schema,
        ui_schema=ui_schema,
        examples=list(spec.examples),
    )
