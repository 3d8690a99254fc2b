"""The OpenAPI document: Litestar's, completed with what it cannot see (the live view's
messages, and that responses carry every field)."""

from __future__ import annotations

import typing
from typing import Any

import msgspec
from litestar import Litestar, Request, Response
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.serialization import encode_json

from dataflow import __version__
from dataflow.runtime.live import AnyLiveMessage

#: The WebSocket messages' union, as a component of the document.
LIVE_MESSAGE_COMPONENT = "AnyLiveMessage"
_REF = "#/components/schemas/{name}"


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="DataFlow API",
        version=__version__,
        description="Design, version, validate and run flows of processors. The live view "
        "(WS /api/v1/ws/flows/{flow_id}) sends the messages of the `AnyLiveMessage` component.",
        path="/schema",
        render_plugins=[_LocalSwagger(), _CompletedJson()],
    )


class _LocalSwagger(OpenAPIRenderPlugin):
    """/schema (and /schema/swagger): Swagger UI from the editor's build, never a CDN, with no
    inline script (the page's Content-Security-Policy allows neither)."""

    def __init__(self) -> None:
        super().__init__(path=["/", "/swagger"])

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        assets = "/vendor/api-reference"
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<title>DataFlow API reference</title>"
            f"<link rel='stylesheet' href='{assets}/swagger-ui.css'></head>"
            "<body><div id='api-reference'></div>"
            f"<script src='{assets}/swagger-ui-bundle.js'></script>"
            f"<script src='{assets}/init.js'></script></body></html>"
        ).encode()


class _CompletedJson(JsonRenderPlugin):
    """/schema/openapi.json serves the completed document (the UIs read it from there)."""

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        return self.render_json(request, complete(request.app, openapi_schema))


def openapi_document(app: Litestar) -> bytes:
    """The document as /schema/openapi.json serves it, without a running server."""
    document = complete(app, app.openapi_schema.to_schema())
    return msgspec.json.format(encode_json(document), indent=2) + b"\n"


def complete(app: Litestar, document: dict[str, Any]) -> dict[str, Any]:
    schemas = dict(document.get("components", {}).get("schemas", {}))
    # Litestar documents no WebSocket route: the live view's messages come from msgspec,
    # reusing Litestar's components (RunStatus, FlowMetrics) where the routes already have them.
    (union,), live = msgspec.json.schema_components([AnyLiveMessage], ref_template=_REF)
    for name, schema in live.items():
        schemas.setdefault(name, schema)
    schemas[LIVE_MESSAGE_COMPONENT] = {
        "title": LIVE_MESSAGE_COMPONENT,
        "description": "A message of WS /api/v1/ws/flows/{flow_id}, tagged by `type`.",
        **union,
    }
    # msgspec encodes every field of a Struct (unless it omits defaults), so a response
    # always has the fields that have defaults too; clients may rely on them.
    for cls in _response_structs(app):
        schema = schemas.get(cls.__name__)
        if schema and not cls.__struct_config__.omit_defaults and "properties" in schema:
            schemas[cls.__name__] = {**schema, "required": sorted(schema["properties"])}
    components = {**document.get("components", {}), "schemas": dict(sorted(schemas.items()))}
    return {**document, "components": components}


def _response_structs(app: Litestar) -> set[type[msgspec.Struct]]:
    types: list[Any] = [AnyLiveMessage]
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler) and handler.resolve_include_in_schema():
                annotation = handler.parsed_fn_signature.return_type.annotation
                if typing.get_origin(annotation) is Response:
                    annotation = typing.get_args(annotation)[0]
                if annotation is not Response:
                    types.append(annotation)
                types += [spec.data_container for spec in (handler.responses or {}).values()]
    found: set[type[msgspec.Struct]] = set()
    _collect(msgspec.inspect.multi_type_info(types), found, set())
    return found


def _collect(node: Any, found: set[type[msgspec.Struct]], seen: set[int]) -> None:
    """Every Struct class reachable from msgspec.inspect type infos."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, tuple | list):
        for item in node:
            _collect(item, found, seen)
    elif isinstance(node, msgspec.inspect.StructType):
        found.add(node.cls)
        _collect(node.fields, found, seen)
    elif isinstance(node, msgspec.Struct):
        for name in node.__struct_fields__:
            _collect(getattr(node, name), found, seen)
