"""The ingest endpoint: records POSTed to a node of a running flow whose processor
implements the ingest protocol (dataflow.processor.ingest), such as http_listen."""

from __future__ import annotations

import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from dataflow.api.auth import bearer, public
from dataflow.api.errors import ApiError, problems
from dataflow.api.services import Services
from dataflow.processor.ingest import (
    BackPressured,
    Ingest,
    IngestAuth,
    IngestClosed,
    InvalidRecords,
    TooManyRecords,
)
from dataflow.runtime.state import FINAL_STATES
from dataflow.security import allows


class Accepted(msgspec.Struct):
    #: Records taken by the flow.
    accepted: int


@post(
    "/api/v1/ingest/{flow_id:str}/{node_id:str}",
    status_code=202,
    operation_id="ingest_records",
    # Checked by the handler: the node's own credential, or a user's token (no cookies).
    opt=public(),
    summary="Send records to an http_listen node",
    tags=["ingest"],
    # A node's own credential (token or basic auth), or a user's API token; never a cookie.
    security=[{"bearer": []}, {"basic": []}],
    responses=problems(
        described={
            400: "The body is not JSON records; `errors[]` gives the line.",
            401: "No or a wrong credential: the node's own, or a user's API token.",
            403: "The user's role is below operator.",
            404: "Unknown flow, or the flow has no http_listen node of that id.",
            413: "More records than the node's max_records_per_request, or a body over "
            "max_body_bytes.",
            415: "The body is neither application/json nor application/x-ndjson.",
            429: "The flow is back-pressured: nothing was taken; retry after Retry-After.",
            503: "The flow is not running, or paused: nothing was taken.",
        }
    ),
)
async def ingest_handler(
    request: Request,
    services: NamedDependency[Services],
    flow_id: FromPath[str],
    node_id: FromPath[str],
) -> Response[Accepted]:
    """Records for the http_listen node `node_id` of the running flow `flow_id`: a JSON object,
    a JSON array of objects, or NDJSON (`application/x-ndjson`, or one object per line).
    202 once the run has taken them."""
    saved = await services.flows.get(flow_id)  # FlowNotFound: 404
    engine = services.runs.engine(flow_id)
    state = engine.state if engine is not None else services.runs.state_of(flow_id)
    # While a run is live, its own version of the flow says which nodes exist.
    flow = engine.flow if engine is not None and state not in FINAL_STATES else saved.flow
    node = flow.node(node_id)
    kind = services.registry.get(node.type) if node is not None else None
    if kind is None or not issubclass(kind, Ingest):
        raise _no_ingest_node(services, flow_id, node_id)
    if state == "paused":
        raise ApiError(503, f"flow {flow_id!r} is paused; nothing was accepted")
    if engine is None or state != "running":
        raise ApiError(503, f"flow {flow_id!r} is not running (state: {state})")
    target = engine.processor(node_id)
    if not isinstance(target, Ingest):  # the run holds another class than the registry's
        raise _no_ingest_node(services, flow_id, node_id)
    await _check_sender(request, services, target, flow_id, node_id)

    # The raw body: the content type decides how it is read, not Litestar's JSON parsing.
    body = await request.body()
    try:
        accepted = await target.ingest(body, request.headers.get("content-type", ""))
    except InvalidRecords as exc:
        error: dict[str, object] = {"code": "invalid_json", "message": exc.message}
        if exc.line:
            error |= {"path": f"line {exc.line}", "line": exc.line}
        raise ApiError(400, f"the body is not JSON records: {exc}", errors=[error]) from exc
    except TooManyRecords as exc:
        raise ApiError(413, str(exc)) from exc
    except IngestClosed:
        raise ApiError(
            503, f"flow {flow_id!r} stopped before taking the records; nothing was accepted"
        ) from None
    except BackPressured as exc:
        raise ApiError(
            429,
            f"flow {flow_id!r} is back-pressured at node {node_id!r}; nothing was"
            f" accepted, send again after {exc.retry_after_seconds} s",
            headers={"Retry-After": str(exc.retry_after_seconds)},
        ) from exc
    return Response(Accepted(accepted), status_code=202)


async def _check_sender(
    request: Request, services: Services, target: Ingest, flow_id: str, node_id: str
) -> None:
    """The node's own credential when it has one (producers need no account); otherwise a
    signed-in user's API token with the operator role. Cookies do not count here: a page on
    another site could make the browser send them."""
    authorization = request.headers.get("authorization")
    verdict = target.check_credentials(authorization) if isinstance(target, IngestAuth) else None
    if verdict is True:
        return
    if verdict is False:
        raise ApiError(
            401,
            f"wrong or missing credential for node {node_id!r} of flow {flow_id!r}",
            headers={"WWW-Authenticate": 'Bearer realm="ingest", Basic realm="ingest"'},
        )
    token = bearer(request)
    identity = await services.access.identify(token) if token else None
    if identity is None:
        raise ApiError(
            401,
            f"node {node_id!r} has no ingest credential of its own: send a user's API token "
            "(Authorization: Bearer ...), or give the node an auth_token",
            headers={"WWW-Authenticate": 'Bearer realm="dataflow"'},
        )
    if not allows(identity.role, "operator"):
        raise ApiError(403, f"{identity.actor} has role {identity.role}; ingest needs operator")


def _no_ingest_node(services: Services, flow_id: str, node_id: str) -> ApiError:
    # Named by the installed types that take records: "http_listen" with the built-ins.
    types = " or ".join(c.spec.name for c in services.registry if issubclass(c, Ingest))
    return ApiError(404, f"flow {flow_id!r} has no {types or 'ingest'} node {node_id!r}")
