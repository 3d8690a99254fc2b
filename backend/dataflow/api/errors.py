"""One error shape everywhere: {status, title, detail, errors[]} (RFC 9457 in spirit)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from dataflow.events.diff import Conflict
from dataflow.graph import Issue

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid flow",
    428: "Precondition required",
    429: "Too many requests",
    431: "Request header fields too large",
    500: "Internal server error",
    503: "Service unavailable",
}


class ErrorItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    path: str = ""
    code: str = ""
    message: str
    node_id: str | None = None
    edge_id: str | None = None


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    status: int
    title: str
    detail: str = ""
    errors: list[Any] = msgspec.field(default_factory=list)
    #: On 409 for a flow save: the version the flow is at now, and each conflict.
    current_version: int | None = None
    conflicts: list[Conflict] | None = None
    #: On 409 for a run transition: the run's current state.
    state: str | None = None


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        detail: str = "",
        *,
        title: str | None = None,
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.headers = headers or {}
        self.problem = Problem(
            status=status,
            title=title or TITLES.get(status, "Error"),
            detail=detail,
            errors=errors or [],
            **extra,
        )


#: What each status means on any route; a route passes its own words for the ones it means
#: more precisely.
PROBLEM_DESCRIPTIONS = {
    400: "Malformed JSON, a parameter of the wrong form, or a Host this server does not answer to.",
    401: "Not signed in: no, an unknown, a revoked or an expired token or session.",
    403: "The caller's role is below the one this needs, or a session call lacks its X-CSRF-Token.",
    404: "No such resource.",
    409: "The change conflicts with the resource's current state.",
    413: "The request body is larger than the server's max_body_bytes.",
    415: "The body is not application/json.",
    422: "The body is well-formed JSON but not a valid request; `errors[]` names each place.",
    428: "The expected version is missing: send If-Match or expected_version.",
    429: "Too many requests: retry after Retry-After seconds.",
    431: "The request's headers are larger than the server's max_header_bytes.",
    503: "The server cannot answer this now (a time limit was reached, or a dependency is "
    "down); retrying later may succeed.",
}


def problem_spec(status: int, description: str | None = None) -> ResponseSpec:
    """One error response of the OpenAPI document: the Problem body as problem+json."""
    return ResponseSpec(
        Problem,
        description=description or PROBLEM_DESCRIPTIONS.get(status, TITLES.get(status, "Error")),
        media_type="application/problem+json",
        generate_examples=False,  # random examples would make the document differ per build
    )


def problems(*statuses: int, described: Mapping[int, str] | None = None) -> dict[int, ResponseSpec]:
    """A route's `responses=`: the error statuses it can answer besides those every route
    shares (400, 401, 403, 413, 415, 431: added by api/openapi.py); `described` gives words of the
    route's own for some (and declares them too)."""
    described = described or {}
    return {s: problem_spec(s, described.get(s)) for s in sorted({*statuses, *described})}


def invalid(issues: list[Issue], detail: str = "the flow document is invalid") -> ApiError:
    return ApiError(422, f"{detail}: {len(issues)} error(s)", errors=list(issues))


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type="application/problem+json",
        headers=headers,
    )


def _api_error(_: Request, exc: ApiError) -> Response[bytes]:
    return problem_response(exc.problem, exc.headers)


def _http_error(_: Request, exc: HTTPException) -> Response[bytes]:
    errors: list[Any] = []
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict):
                key = item.get("key") or ""
                errors.append(
                    ErrorItem(path=str(key), code="invalid", message=str(item.get("message", "")))
                )
    status = exc.status_code
    detail = exc.detail if exc.detail != TITLES.get(status) else ""
    headers = dict(exc.headers or {})  # Allow on 405, Retry-After, WWW-Authenticate
    if (status == 400 and "JSON" in (exc.detail or "")) or "decode" in (exc.detail or "").lower():
        detail = f"malformed JSON body: {exc.detail}"
    return problem_response(
        Problem(status=status, title=TITLES.get(status, "Error"), detail=detail, errors=errors),
        headers,
    )


def _undecodable(_: Request, exc: Exception) -> Response[bytes]:
    """The body cannot be JSON: bytes that are not UTF-8, or nesting past the decoder's
    recursion limit (both found by the JSON decoder before any handler runs)."""
    detail = (
        "the body is not valid UTF-8"
        if isinstance(exc, UnicodeDecodeError)
        else "the JSON body nests too deeply"
    )
    return problem_response(Problem(status=400, title=TITLES[400], detail=detail))


def _unexpected(request: Request, exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        Problem(
            status=HTTP_500_INTERNAL_SERVER_ERROR,
            title=TITLES[500],
            detail=f"{type(exc).__name__}: {exc}",
        )
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: _api_error,
    HTTPException: _http_error,
    UnicodeDecodeError: _undecodable,
    RecursionError: _undecodable,
    Exception: _unexpected,
}

JSON = MediaType.JSON


def domain_exception_handlers() -> dict[Any, Any]:
    """Domain exceptions (which know nothing of HTTP) mapped to statuses."""
    from dataflow import secrets
    from dataflow.events import diff, flows
    from dataflow.graph import checker
    from dataflow.runtime import runs
    from dataflow.security import access, server_settings

    def handler(
        status: int, title: str | None = None, **extra_of: Callable[[Any], Any]
    ) -> Callable[[Request, Exception], Response[bytes]]:
        def handle(_: Request, exc: Exception) -> Response[bytes]:
            extra = {k: getter(exc) for k, getter in extra_of.items()}
            heading = title or TITLES.get(status, "Error")
            return problem_response(Problem(status=status, title=heading, detail=str(exc), **extra))

        return handle

    return {
        flows.FlowNotFound: handler(404),
        flows.VersionNotFound: handler(404),
        flows.FlowExists: handler(409),
        flows.StaleVersion: handler(409, current_version=lambda e: e.current_version),
        diff.MergeConflict: handler(
            409,
            current_version=lambda e: e.current_version,
            conflicts=lambda e: list(e.conflicts),
            errors=lambda e: [
                ErrorItem(
                    path=c.path,
                    code=c.kind,
                    message=f"{c.kind.replace('_', ' ')}: {c.path}",
                    node_id=c.node_id,
                    edge_id=c.edge_id,
                )
                for c in e.conflicts
            ],
        ),
        runs.InvalidTransition: handler(409, state=lambda e: e.state),
        secrets.SecretNotFound: handler(404),
        secrets.SecretError: handler(400),
        runs.FlowNotRunnable: handler(422, errors=lambda e: list(e.issues)),
        checker.CheckTimeout: handler(503),
        access.UserNotFound: handler(404),
        access.TokenNotFound: handler(404),
        access.UserExists: handler(409),
        access.AccessDenied: handler(403),
        server_settings.ServerSettingError: handler(
            409,
            errors=lambda e: [ErrorItem(path=e.field, code="conflict", message=str(e))],
        ),
        access.AccessError: handler(
            422,
            "Invalid request",
            errors=lambda e: [ErrorItem(path=e.field or "", code="invalid", message=str(e))],
        ),
    }
