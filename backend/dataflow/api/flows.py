"""Flow design endpoints: CRUD, versions, diff, revert, audit trail, export/import, validation."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, FromPath, HeaderParameter, JSONBody, QueryParameter

from dataflow.api.errors import ApiError, ErrorItem, invalid, problems
from dataflow.api.services import Services
from dataflow.events.diff import FlowDiff
from dataflow.events.flows import FlowState, HistoryEntry, VersionInfo
from dataflow.events.projections import FlowSummary
from dataflow.graph import ValidationReport
from dataflow.model import Flow, export_flow, new_id

FlowBody = Annotated[
    dict[str, Any],
    Body(title="Flow document", description="A flow document: see /api/v1/schema/flow.json"),
]


IfMatch = Annotated[
    str,
    HeaderParameter(
        name="If-Match",
        pattern=r'^((W/)?"?[0-9]+"?)?$',  # empty: absent
        description="The version the save is based on (the ETag of GET), unless the body is "
        '{"flow": ..., "expected_version": N}.',
    ),
]


class FlowEnvelope(msgspec.Struct, kw_only=True):
    flow: Flow
    version: int
    created_at: float
    updated_at: float


class SavedFlow(FlowEnvelope, kw_only=True):
    merged: bool
    changed: bool


class FlowListItem(FlowSummary, kw_only=True):
    """A flow-list row plus the state of the flow's latest run."""

    state: str


class RevertRequest(msgspec.Struct):
    version: int


def envelope(state: FlowState) -> FlowEnvelope:
    return FlowEnvelope(
        flow=state.flow,
        version=state.version,
        created_at=state.created_at,
        updated_at=state.updated_at,
    )


async def decode_document(services: Services, data: Any, *, strict: bool) -> Flow:
    """A flow from a request body; structural errors always reject, graph errors only when
    `strict` (imports), since a design saved from the canvas may be unfinished."""
    checked = await services.runs.checker.document(data)
    flow, report = checked.flow, checked.report
    if flow is None:
        raise invalid(report.errors)
    # The journal keeps every event forever: a clear password must never reach it.
    in_clear = [i for i in report.errors if i.code == "secret_in_clear"]
    if in_clear:
        raise invalid(in_clear, "the flow holds secret values in clear")
    if strict and not report.valid:
        raise invalid(report.errors, "the flow does not validate")
    return flow


def expected_version(if_match: str, body: Any) -> int:
    if isinstance(body, dict) and body.get("expected_version") is not None:
        value = body["expected_version"]
    else:
        value = if_match.strip().removeprefix("W/").strip('"')
    digits = isinstance(value, str) and value.isascii() and value.isdigit()
    if digits or (isinstance(value, float) and value.is_integer()):  # 3.0 is an int to JSON
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):  # true is no version
        return value
    raise ApiError(
        428 if value == "" else 400,
        "the expected version is required: send If-Match: <version> or a body "
        '{"flow": {...}, "expected_version": <version>}',
        title="Precondition required" if value == "" else "Bad request",
    )


class FlowController(Controller):
    path = "/api/v1/flows"
    tags = ["flows"]

    @get("/", operation_id="list_flows")
    async def list_flows(self, services: NamedDependency[Services]) -> list[FlowListItem]:
        await services.flow_list.catch_up()
        return [
            FlowListItem(**msgspec.structs.asdict(s), state=services.runs.state_of(s.id))
            for s in services.flow_list.list()
        ]

    @post(
        "/",
        operation_id="create_flow",
        responses=problems(
            409,
            422,
            503,
            described={409: "A flow with the document's id exists: import it to get a new id."},
        ),
    )
    async def create_flow(
        self, services: NamedDependency[Services], data: FlowBody
    ) -> FlowEnvelope:
        flow = await decode_document(services, data, strict=False)
        return envelope(await services.flows.create(flow, checked=True))

    @post("/import", operation_id="import_flow", responses=problems(422, 503))
    async def import_flow(
        self, services: NamedDependency[Services], data: FlowBody
    ) -> FlowEnvelope:
        """Create a new flow from an exported file; an id already in use gets a new one."""
        flow = await decode_document(services, data, strict=True)
        if not flow.id or await services.flows.exists(flow.id):
            flow.id = new_id("flow-")
        return envelope(await services.flows.create(flow, checked=True))

    @post("/validate", status_code=200, operation_id="validate_flow", responses=problems(503))
    async def validate(
        self, services: NamedDependency[Services], data: FlowBody
    ) -> ValidationReport:
        """Validate any document; nothing is stored."""
        await services.server.refresh()
        gate = services.server.python_gate()
        return (await services.runs.checker.document(data, python_gate=gate)).report

    @get("/{flow_id:str}", operation_id="get_flow", responses=problems(404))
    async def get_flow(
        self, services: NamedDependency[Services], flow_id: FromPath[str]
    ) -> Response[FlowEnvelope]:
        state = await services.flows.get(flow_id)
        return Response(envelope(state), headers={"ETag": f'"{state.version}"'})

    @put(
        "/{flow_id:str}",
        operation_id="save_flow",
        responses=problems(
            404,
            422,
            503,
            described={
                409: "The flow changed since the expected version and the changes conflict "
                "(`conflicts`), or the version is ahead of the flow (`current_version`).",
                428: "No expected version: send If-Match: <version> or expected_version.",
            },
        ),
    )
    async def save_flow(
        self,
        services: NamedDependency[Services],
        flow_id: FromPath[str],
        data: FlowBody,
        if_match: IfMatch = "",
    ) -> SavedFlow:
        """Save the whole document. Based on an older version, it is merged three-way with
        the changes since; only real conflicts give 409."""
        expected = expected_version(if_match, data)
        body = data["flow"] if isinstance(data.get("flow"), dict) else data
        flow = await decode_document(services, body, strict=False)
        if flow.id and flow.id != flow_id:
            message = f"the document's id {flow.id!r} is not {flow_id!r}, the flow saved"
            raise ApiError(
                422,
                message,
                title="Invalid request",
                errors=[ErrorItem(path="id", code="id_mismatch", message=message)],
            )
        result = await services.flows.save(flow_id, flow, expected, checked=True)
        return SavedFlow(
            **msgspec.structs.asdict(envelope(result.state)),
            merged=result.merged,
            changed=result.changed,
        )

    @delete(
        "/{flow_id:str}",
        operation_id="delete_flow",
        responses=problems(404, described={409: "The flow is running: stop it first."}),
    )
    async def delete_flow(
        self, services: NamedDependency[Services], flow_id: FromPath[str]
    ) -> None:
        if services.runs.is_active(flow_id):
            raise ApiError(
                409,
                f"flow {flow_id!r} is running: stop it first",
                state=services.runs.state_of(flow_id),
            )
        await services.flows.delete(flow_id)

    @get("/{flow_id:str}/versions", operation_id="list_versions", responses=problems(404))
    async def versions(
        self, services: NamedDependency[Services], flow_id: FromPath[str]
    ) -> list[VersionInfo]:
        return await services.flows.versions(flow_id)

    @get(
        "/{flow_id:str}/versions/{version:int}",
        operation_id="get_version",
        responses=problems(404),
    )
    async def version(
        self, services: NamedDependency[Services], flow_id: FromPath[str], version: FromPath[int]
    ) -> FlowEnvelope:
        return envelope(await services.flows.get(flow_id, version))

    @get("/{flow_id:str}/diff", operation_id="diff_versions", responses=problems(404))
    async def diff(
        self,
        services: NamedDependency[Services],
        flow_id: FromPath[str],
        from_version: Annotated[int, QueryParameter(name="from", ge=1)],
        to_version: Annotated[int | None, QueryParameter(name="to", ge=1)] = None,
    ) -> FlowDiff:
        """What changed between two versions (`to` defaults to the current one)."""
        if to_version is None:
            to_version = (await services.flows.get(flow_id)).version
        return await services.flows.diff(flow_id, from_version, to_version)

    @post(
        "/{flow_id:str}/revert",
        status_code=200,
        operation_id="revert_flow",
        responses=problems(404),
    )
    async def revert(
        self,
        services: NamedDependency[Services],
        flow_id: FromPath[str],
        data: JSONBody[RevertRequest],
    ) -> FlowEnvelope:
        """A new version whose document equals the given version's."""
        return envelope(await services.flows.revert(flow_id, data.version))

    @get("/{flow_id:str}/events", operation_id="list_events", responses=problems(404))
    async def events(
        self, services: NamedDependency[Services], flow_id: FromPath[str]
    ) -> list[HistoryEntry]:
        """The audit trail: design events and run events, oldest first."""
        await services.flows.get(flow_id)  # 404 for unknown flows
        design = await services.flows.history(flow_id)
        runs = await services.runs.history(flow_id)
        return sorted([*design, *runs], key=lambda e: e.position)

    @get(
        "/{flow_id:str}/export",
        operation_id="export_flow",
        responses={
            200: ResponseSpec(
                Flow,
                description="The flow file: canonical JSON (sorted keys, 2-space indent).",
                generate_examples=False,
            ),
            **problems(404),
        },
    )
    async def export(
        self, services: NamedDependency[Services], flow_id: FromPath[str]
    ) -> Response[bytes]:
        state = await services.flows.get(flow_id)
        return Response(
            export_flow(state.flow),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{flow_id}.json"'},
        )

    @get("/{flow_id:str}/validation", operation_id="get_validation", responses=problems(404, 503))
    async def validation(
        self, services: NamedDependency[Services], flow_id: FromPath[str]
    ) -> ValidationReport:
        state = await services.flows.get(flow_id)
        await services.server.refresh()
        gate = services.server.python_gate()
        return (await services.runs.checker.flow(state.flow, python_gate=gate)).report
