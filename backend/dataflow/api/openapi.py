"""The OpenAPI document: Litestar's, completed with what it cannot see: the live view's
messages, that responses carry every field, the errors every route shares (as problem+json),
who may call what, and the real schema of flow documents that handlers take as plain JSON."""

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
from dataflow.api.auth import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, required_role
from dataflow.api.errors import PROBLEM_DESCRIPTIONS, Problem
from dataflow.model import Flow
from dataflow.runtime.live import AnyLiveMessage

#: The WebSocket messages' union, as a component of the document.
LIVE_MESSAGE_COMPONENT = "AnyLiveMessage"
_REF = "#/components/schemas/{name}"
_PROBLEM_MEDIA = "application/problem+json"
_METHODS = ("get", "put", "post", "delete", "patch")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: The flow document as a request body: defaults may be left out, unlike in responses, so
#: its structs get components of their own, named with this suffix (as FastAPI does).
INPUT_SUFFIX = "Input"
FLOW_INPUT = f"Flow{INPUT_SUFFIX}"
#: Handlers that take a flow document as dict[str, Any] (they report structural errors
#: themselves, as 422 with every place named); the document still says what to send.
FLOW_BODY_OPERATIONS = frozenset({"create_flow", "import_flow", "validate_flow"})
SAVE_FLOW_OPERATION = "save_flow"
SAVE_FLOW_REQUEST = "SaveFlowRequest"
SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token: POST /api/v1/auth/login with token_name, or "
        "`dataflow tokens create`.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The editor's session cookie (POST /api/v1/auth/login); unsafe "
        f"methods also need the {CSRF_HEADER} header it was given.",
    },
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "Only for ingest: an http_listen node's own basic-auth credential.",
    },
}
#: Every route but the public ones and ingest: a token, or the editor's session.
SIGNED_IN: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]


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
    responses = _response_structs(app)
    # Request bodies are decoded by msgspec: its schema of them is the exact one (unknown
    # fields refused, nullable fields, constraints), where Litestar's loses some.
    requests = [cls for cls in _request_structs(app) if cls not in responses]
    if requests:
        _, decoded = msgspec.json.schema_components(requests, ref_template=_REF)
        for name, schema in decoded.items():
            if name not in {cls.__name__ for cls in responses}:
                schemas[name] = schema
    for cls in responses:
        schema = schemas.get(cls.__name__)
        if schema and not cls.__struct_config__.omit_defaults and "properties" in schema:
            schemas[cls.__name__] = {**schema, "required": sorted(schema["properties"])}
    schemas.update(_flow_input_components())
    if Problem.__name__ not in schemas:
        (_, found) = msgspec.json.schema_components([Problem], ref_template=_REF)
        schemas.update(found)
    paths = _complete_operations(app, document.get("paths", {}))
    components = {
        **document.get("components", {}),
        "schemas": dict(sorted(schemas.items())),
        "securitySchemes": SECURITY_SCHEMES,
    }
    return {
        **document,
        "paths": paths,
        "components": components,
        "security": SIGNED_IN,
    }


def _problem(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or PROBLEM_DESCRIPTIONS[status],
        "content": {_PROBLEM_MEDIA: {"schema": {"$ref": _REF.format(name=Problem.__name__)}}},
    }


def _is_problem(response: dict[str, Any]) -> bool:
    return _PROBLEM_MEDIA in response.get("content", {})


def _complete_operations(app: Litestar, paths: dict[str, Any]) -> dict[str, Any]:
    """The statuses every route shares, declared on each operation from what the app does:
    400 and 431 for any request (Litestar's own 400 answers with our problem body), 401 and
    403 from the handler's role, 413 and 415 for bodies (api/hardening.py,
    request_max_body_size)."""
    handlers = _handlers_by_operation(app)
    completed: dict[str, Any] = {}
    for path, item in paths.items():
        item = dict(item)
        for method in _METHODS:
            if method in item:
                item[method] = _complete_operation(path, method.upper(), item[method], handlers)
        completed[path] = item
    return completed


def _complete_operation(
    path: str, method: str, operation: dict[str, Any], handlers: dict[str, HTTPRouteHandler]
) -> dict[str, Any]:
    operation = dict(operation)
    responses = dict(operation.get("responses", {}))
    handler = handlers.get(operation.get("operationId", ""))
    need = required_role(handler, method) if handler is not None else "viewer"
    if not _is_problem(responses.get("400", {})):  # Litestar's ValidationException shape
        responses["400"] = _problem(400)
    responses.setdefault("431", _problem(431))  # api/hardening.py, before any route
    if need is not None:
        responses.setdefault("401", _problem(401))
        # Viewers may read; writes may need more, and a session's writes its CSRF token.
        if need != "viewer" or method not in SAFE_METHODS:
            responses.setdefault("403", _problem(403))
    elif handler is not None and not handler.security:
        operation["security"] = []  # public: sign-in, liveness
    if method in _BODY_METHODS and path.startswith("/api/"):
        responses.setdefault("415", _problem(415))
    if "requestBody" in operation:
        responses.setdefault("413", _problem(413))
        operation["requestBody"] = _flow_body(operation)
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def _flow_body(operation: dict[str, Any]) -> dict[str, Any]:
    body = operation["requestBody"]
    op_id = operation.get("operationId")
    if op_id in FLOW_BODY_OPERATIONS:
        schema: dict[str, Any] = {"$ref": _REF.format(name=FLOW_INPUT)}
    elif op_id == SAVE_FLOW_OPERATION:
        schema = {
            "anyOf": [
                {"$ref": _REF.format(name=FLOW_INPUT)},
                {"$ref": _REF.format(name=SAVE_FLOW_REQUEST)},
            ]
        }
    else:
        return body
    return {
        **body,
        "description": "A flow document (as GET /api/v1/schema/flow.json describes it). "
        "Structural errors are 422 with every place named in `errors[]`.",
        "content": {"application/json": {"schema": schema}},
    }


def _flow_input_components() -> dict[str, Any]:
    """The flow document's structs as msgspec describes them (the schema
    /api/v1/schema/flow.json serves), under names with INPUT_SUFFIX."""
    template = _REF.format(name="{name}") + INPUT_SUFFIX
    _, found = msgspec.json.schema_components([Flow], ref_template=template)
    inputs = {f"{name}{INPUT_SUFFIX}": schema for name, schema in found.items()}
    inputs[SAVE_FLOW_REQUEST] = {
        "title": SAVE_FLOW_REQUEST,
        "description": "A save with the expected version in the body instead of If-Match.",
        "type": "object",
        "properties": {
            "flow": {"$ref": _REF.format(name=FLOW_INPUT)},
            "expected_version": {"type": "integer", "minimum": 0},
        },
        "required": ["flow", "expected_version"],
        "additionalProperties": False,
    }
    return inputs


def _handlers_by_operation(app: Litestar) -> dict[str, HTTPRouteHandler]:
    found: dict[str, HTTPRouteHandler] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler) and isinstance(handler.operation_id, str):
                found[handler.operation_id] = handler
    return found


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


def _request_structs(app: Litestar) -> list[type[msgspec.Struct]]:
    found: set[type[msgspec.Struct]] = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler) and handler.resolve_include_in_schema():
                data = handler.parsed_fn_signature.parameters.get("data")
                kind = data.annotation if data is not None else None
                if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
                    found.add(kind)
    return sorted(found, key=lambda cls: cls.__name__)


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
