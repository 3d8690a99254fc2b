"""Processor catalog and published JSON Schemas."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from dataflow.api.errors import ApiError, problems
from dataflow.api.services import Services
from dataflow.model import flow_json_schema
from dataflow.processor.catalog import ProcessorInfo, describe

log = logging.getLogger(__name__)


class FlowSchema(msgspec.Struct, kw_only=True):
    """A JSON Schema (draft 2020-12) whose root refers to the `Flow` definition; the editor
    renders the edge and flow settings forms from `$defs` (EdgeSettings, FlowSettings)."""

    schema: str = msgspec.field(name="$schema")
    id: str = msgspec.field(name="$id")
    ref: str = msgspec.field(name="$ref")
    defs: dict[str, dict[str, Any]] = msgspec.field(name="$defs")


class CatalogController(Controller):
    path = "/api/v1"
    tags = ["catalog"]

    @get("/processors", operation_id="list_processors")
    async def processors(self, services: NamedDependency[Services]) -> list[ProcessorInfo]:
        """Every installed processor: ports, config JSON Schema and form hints. A plugin
        whose description cannot be built is left out (and logged), not the whole list."""
        infos = []
        for cls in services.registry:
            try:
                infos.append(describe(cls))
            except Exception:
                log.exception("processor %s cannot be described; left out", cls.spec.name)
        return infos

    @get("/processors/{type_name:str}", operation_id="get_processor", responses=problems(404))
    async def processor(
        self, services: NamedDependency[Services], type_name: FromPath[str]
    ) -> ProcessorInfo:
        cls = services.registry.get(type_name)
        if cls is None:
            raise ApiError(404, f"no processor type {type_name!r}")
        return describe(cls)

    @get("/schema/flow.json", media_type="application/schema+json", operation_id="get_flow_schema")
    async def flow_schema(self) -> FlowSchema:
        """JSON Schema of the flow document, generated from the model's structs."""
        return msgspec.convert(flow_json_schema(), FlowSchema)
