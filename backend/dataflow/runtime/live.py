"""The live view's messages: what the WebSocket of a flow pushes, one tagged union."""

from __future__ import annotations

import msgspec

from dataflow.events.run_events import RunStatus
from dataflow.runtime.metrics import FlowMetrics


class LiveMessage(msgspec.Struct, tag_field="type", kw_only=True, frozen=True):
    """Base of the messages on `WS /api/v1/ws/flows/{flow_id}`."""


class StateMessage(LiveMessage, tag="state", frozen=True):
    """The run's status, on connect and after every transition."""

    run: RunStatus


class MetricsMessage(LiveMessage, tag="metrics", frozen=True):
    """Every node's and edge's numbers, about once a second while the run is live."""

    metrics: FlowMetrics


class ErrorMessage(LiveMessage, tag="error", frozen=True):
    """The run failed: the error and the node that caused it."""

    message: str
    node_id: str | None = None


AnyLiveMessage = StateMessage | MetricsMessage | ErrorMessage
