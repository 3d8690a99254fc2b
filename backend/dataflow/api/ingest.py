"""The ingest endpoint: records POSTed to an http_listen node of a running flow."""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Request, Response, post
from litestar.openapi.datastructures import ResponseSpec

from dataflow.api.errors import TITLES, ApiError, Problem, problem_response
from dataflow.api.services import Services
from dataflow.runtime.state import FINAL_STATES
from dataflow_processors._http import JsonError
from dataflow_processors.http_listen import HttpListen, ListenerClosed, TooManyRecords, listener

#: Seconds a back-pressured client is asked to wait before sending again.
RETRY_AFTER_SECONDS = 1


class Accepted(msgspec.Struct):
    #: Records taken by the flow.
    accepted: int


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(
        Problem,
        description=description,
        media_type="application/problem+json",
        generate_examples=False,  # random examples would make the document differ per build
    )


@post(
    "/api/v1/ingest/{flow_id:str}/{node_id:str}",
    status_code=202,
    operation_id="ingest_records",
    summary="Send records to an http_listen node",
    tags=["ingest"],
    responses={
        400: _problem("The body is not JSON records; `errors[]` gives the line."),
        404: _problem("Unknown flow, or the flow has no http_listen node of that id."),
        413: _problem("More records than the node's max_records_per_request."),
        429: _problem("The flow is back-pressured: nothing was taken; retry after Retry-After."),
        503: _problem("The flow is not running, or paused: nothing was taken."),
    },
)
async def ingest_handler(
    request: Request, services: Services, flow_id: str, node_id: str
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
    if node is None or node.type != HttpListen.spec.name:
        raise ApiError(404, f"flow {flow_id!r} has no {HttpListen.spec.name} node {node_id!r}")
    target = listener(flow_id, node_id)
    if state == "paused":
        raise ApiError(503, f"flow {flow_id!r} is paused; nothing was accepted")
    if target is None or state != "running":
        raise ApiError(503, f"flow {flow_id!r} is not running (state: {state})")

    # The raw body: the content type decides how it is read, not Litestar's JSON parsing.
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    try:
        batch = await asyncio.to_thread(target.decode, body, content_type)
    except JsonError as exc:
        error: dict[str, object] = {"code": "invalid_json", "message": exc.message}
        if exc.line:
            error |= {"path": f"line {exc.line}", "line": exc.line}
        raise ApiError(400, f"the body is not JSON records: {exc}", errors=[error]) from exc
    except TooManyRecords as exc:
        raise ApiError(413, str(exc)) from exc
    if not batch.num_rows:
        return Response(Accepted(0), status_code=202)
    try:
        taken = await target.offer(batch)
    except ListenerClosed:
        raise ApiError(
            503, f"flow {flow_id!r} stopped before taking the records; nothing was accepted"
        ) from None
    if not taken:
        problem = Problem(
            status=429,
            title=TITLES[429],
            detail=f"flow {flow_id!r} is back-pressured at node {node_id!r}; nothing was"
            f" accepted, send again after {RETRY_AFTER_SECONDS} s",
        )
        response = problem_response(problem)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response  # type: ignore[return-value]
    return Response(Accepted(batch.num_rows), status_code=202)
