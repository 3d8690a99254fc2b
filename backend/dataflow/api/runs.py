"""Run endpoints: lifecycle, metrics, health, edge samples, WebSocket, Prometheus."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Annotated

import msgspec
from litestar import Controller, Response, WebSocket, get, post, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, FromQuery, QueryParameter
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from dataflow.api.auth import needs
from dataflow.api.errors import ApiError, problems
from dataflow.api.services import Services
from dataflow.events.run_events import RunStatus
from dataflow.runtime.live import LiveMessage, StateMessage
from dataflow.runtime.metrics import FlowMetrics
from dataflow.runtime.runs import RunManager
from dataflow.runtime.sample import SampleResult


class FlowHealth(msgspec.Struct, kw_only=True):
    flow_id: str
    state: str
    healthy: bool
    records_per_second: float
    error_rate: float
    errors: int
    backpressured_edges: list[str]
    max_fill_ratio: float
    detail: str


def _metrics_of(services: Services, flow_id: str) -> FlowMetrics:
    engine = services.runs.engine(flow_id)
    if engine is not None:
        return engine.metrics()
    status = services.runs.status(flow_id)
    return FlowMetrics(
        run_id=status.run_id if status else None,
        flow_id=flow_id,
        state=status.state if status else "configured",
        elapsed=0.0,
        nodes={},
        edges={},
    )


#: What a run control answers when the run's state does not allow it.
TRANSITION_PROBLEMS = problems(
    described={409: "The run is not in a state that allows this (`state` says which)."}
)


class RunController(Controller):
    path = "/api/v1/flows/{flow_id:str}"
    tags = ["runs"]
    opt = needs(write="operator")

    @post(
        "/start",
        status_code=200,
        operation_id="start_run",
        responses=problems(
            404,
            503,
            described={
                409: "The flow is already running or paused (`state`).",
                422: "The flow does not validate: `errors[]` says where.",
            },
        ),
    )
    async def start(self, services: NamedDependency[Services], flow_id: FromPath[str]) -> RunStatus:
        """Run the flow's current saved version (recorded on the run)."""
        return await services.runs.start(flow_id)

    @post(
        "/pause",
        status_code=200,
        operation_id="pause_run",
        responses=TRANSITION_PROBLEMS,
    )
    async def pause(self, services: NamedDependency[Services], flow_id: FromPath[str]) -> RunStatus:
        """Sources stop pulling; in-flight work drains; queues keep their content."""
        return await services.runs.pause(flow_id)

    @post(
        "/resume",
        status_code=200,
        operation_id="resume_run",
        responses=TRANSITION_PROBLEMS,
    )
    async def resume(
        self, services: NamedDependency[Services], flow_id: FromPath[str]
    ) -> RunStatus:
        return await services.runs.resume(flow_id)

    @post(
        "/stop",
        status_code=200,
        operation_id="stop_run",
        responses=TRANSITION_PROBLEMS,
    )
    async def stop(
        self,
        services: NamedDependency[Services],
        flow_id: FromPath[str],
        force: FromQuery[bool] = False,
    ) -> RunStatus:
        """Graceful: sources stop, queues drain, sinks flush. `?force=true` cancels now."""
        return await services.runs.stop(flow_id, force=force)

    @get("/run", operation_id="get_run", responses=problems(404))
    async def run(self, services: NamedDependency[Services], flow_id: FromPath[str]) -> RunStatus:
        """The flow's latest run (state `configured` when it never ran)."""
        state = await services.flows.get(flow_id)
        status = services.runs.status(flow_id)
        return status or RunStatus(run_id="", flow_id=flow_id, flow_version=state.version)

    @get("/metrics", operation_id="get_run_metrics", responses=problems(404))
    async def metrics(
        self, services: NamedDependency[Services], flow_id: FromPath[str]
    ) -> FlowMetrics:
        await services.flows.get(flow_id)
        return _metrics_of(services, flow_id)

    @get("/health", operation_id="get_flow_health", responses=problems(404))
    async def health(
        self, services: NamedDependency[Services], flow_id: FromPath[str]
    ) -> FlowHealth:
        """State, backpressure and error rate in one look."""
        await services.flows.get(flow_id)
        m = _metrics_of(services, flow_id)
        nodes, edges = m.nodes.values(), m.edges
        records = sum(sum(n.records_in.values()) for n in nodes)
        errors = sum(n.errors for n in nodes)
        rate = sum(
            n.records_out_per_second for n in nodes if not n.records_in
        )  # sources' output rate
        pressured = sorted(e for e, v in edges.items() if v.fill_ratio >= 0.9)
        max_fill = max((v.fill_ratio for v in edges.values()), default=0.0)
        state = m.state
        healthy = state != "failed" and errors == 0
        status = services.runs.status(flow_id)
        detail = (
            ("failed: " + ((status.error if status else None) or ""))
            if state == "failed"
            else f"{len(pressured)} back-pressured edge(s)"
            if pressured
            else "ok"
        )
        return FlowHealth(
            flow_id=flow_id,
            state=state,
            healthy=healthy,
            records_per_second=rate,
            error_rate=errors / records if records else 0.0,
            errors=errors,
            backpressured_edges=pressured,
            max_fill_ratio=max_fill,
            detail=detail,
        )

    @get(
        "/edges/{edge_id:str}/sample",
        operation_id="sample_edge",
        responses=problems(
            404,
            described={400: "The `where` filter is not valid SQL over the edge's columns."},
        ),
    )
    async def sample(
        self,
        services: NamedDependency[Services],
        flow_id: FromPath[str],
        edge_id: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=10_000)] = 100,
        where: FromQuery[str | None] = None,
    ) -> SampleResult:
        """Recent records that passed the edge, optionally filtered by a SQL `where`."""
        state = await services.flows.get(flow_id)
        if state.flow.edge(edge_id) is None:
            raise ApiError(404, f"flow {flow_id!r} has no edge {edge_id!r}")
        engine = services.runs.engine(flow_id)
        if engine is None:
            return SampleResult(columns=[], rows=[])
        settings = services.settings
        try:
            async with services.runs.sample_slots:  # a few at a time: samples never starve runs
                result = await asyncio.to_thread(
                    engine.sample, edge_id, limit, where, settings.sample_timeout_seconds
                )
        except ValueError as exc:
            raise ApiError(
                400,
                str(exc),
                errors=[{"path": "where", "code": "invalid_sql", "message": str(exc)}],
            ) from exc
        return result


@websocket("/api/v1/ws/flows/{flow_id:str}")
async def flow_websocket(socket: WebSocket, flow_id: FromPath[str]) -> None:
    """Live view: `state` on every transition, `metrics` every second, `error` on failures."""
    services: Services = socket.app.state.services
    await socket.accept()
    status = services.runs.status(flow_id)
    if status:
        await socket.send_text(_live_json(StateMessage(run=status)))
    async with services.runs.subscribe(flow_id) as queue:
        receiver = asyncio.create_task(_drain(socket))
        try:
            while not receiver.done():
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait(
                    {getter, receiver}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    break
                await socket.send_text(_live_json(getter.result()))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            receiver.cancel()
            with contextlib.suppress(Exception):
                await socket.close()


def _live_json(message: LiveMessage) -> str:
    return msgspec.json.encode(message).decode()


async def _drain(socket: WebSocket) -> None:
    """Read (and ignore) client messages so a disconnect is noticed."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await socket.receive_data(mode="text")


class _RuntimeCollector:
    """Prometheus view of every run the manager holds, read at scrape time."""

    def __init__(self, runs: RunManager):
        self.runs = runs

    def collect(self) -> Iterator[Metric]:
        labels = ["flow", "node"]
        rin = CounterMetricFamily(
            "dataflow_node_records_in", "Records received", labels=[*labels, "port"]
        )
        rout = CounterMetricFamily(
            "dataflow_node_records_out", "Records emitted", labels=[*labels, "port"]
        )
        errs = CounterMetricFamily("dataflow_node_errors", "Errors", labels=labels)
        busy = CounterMetricFamily(
            "dataflow_node_busy_seconds", "Time in processor calls", labels=labels
        )
        bout = CounterMetricFamily("dataflow_node_bytes_out", "Bytes emitted", labels=labels)
        qb = GaugeMetricFamily(
            "dataflow_edge_queued_batches", "Batches queued", labels=["flow", "edge"]
        )
        qy = GaugeMetricFamily(
            "dataflow_edge_queued_bytes", "Bytes queued", labels=["flow", "edge"]
        )
        fill = GaugeMetricFamily(
            "dataflow_edge_fill_ratio", "Queue fill 0..1", labels=["flow", "edge"]
        )
        bp = CounterMetricFamily(
            "dataflow_edge_backpressure_seconds",
            "Time producers were blocked",
            labels=["flow", "edge"],
        )
        states = GaugeMetricFamily(
            "dataflow_run_state", "1 for the run's current state", labels=["flow", "state"]
        )
        for status, engine in self.runs.active_runs():
            flow = status.flow_id
            states.add_metric([flow, status.state], 1)
            m = engine.metrics()
            for node_id, n in m.nodes.items():
                for port, v in n.records_in.items():
                    rin.add_metric([flow, node_id, port], v)
                for port, v in n.records_out.items():
                    rout.add_metric([flow, node_id, port], v)
                errs.add_metric([flow, node_id], n.errors)
                busy.add_metric([flow, node_id], n.busy_seconds)
                bout.add_metric([flow, node_id], n.bytes_out)
            for edge_id, e in m.edges.items():
                qb.add_metric([flow, edge_id], e.queued_batches)
                qy.add_metric([flow, edge_id], e.queued_bytes)
                fill.add_metric([flow, edge_id], e.fill_ratio)
                bp.add_metric([flow, edge_id], e.backpressure_seconds)
        yield from (rin, rout, errs, busy, bout, qb, qy, fill, bp, states)


@get(
    "/metrics",
    tags=["operations"],
    media_type=CONTENT_TYPE_LATEST,
    operation_id="prometheus_metrics",
)
async def prometheus_metrics(services: NamedDependency[Services]) -> Response[bytes]:
    """Prometheus exposition of every run's node and edge metrics."""
    registry = CollectorRegistry()
    registry.register(_RuntimeCollector(services.runs))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
