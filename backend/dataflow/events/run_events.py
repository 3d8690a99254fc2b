"""The run aggregate (the seeds' pipeline): lifecycle events and the status they fold into."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

#: Every state of a run, declared once for the journal's fold, the engine and the API. The
#: journal folds configured (created, not started yet; also a flow that never ran) -> running
#: <-> paused -> stopped | failed | completed; the engine shows two more between those events:
#: created (built, opening its processors) and stopping (draining, or interrupted).
RunState = Literal[
    "configured", "created", "running", "paused", "stopping", "stopped", "failed", "completed"
]
ACTIVE_STATES: frozenset[RunState] = frozenset({"running", "paused"})
FINAL_STATES: frozenset[RunState] = frozenset({"stopped", "failed", "completed"})


class RunEvent(msgspec.Struct, tag_field="type", frozen=True, kw_only=True):
    """Base of run events; one stream per run: `run-{run_id}`."""


class RunCreated(RunEvent, tag="RunCreated", frozen=True):
    run_id: str
    flow_id: str
    flow_version: int


class RunStarted(RunEvent, tag="RunStarted", frozen=True):
    pass


class RunPaused(RunEvent, tag="RunPaused", frozen=True):
    pass


class RunResumed(RunEvent, tag="RunResumed", frozen=True):
    pass


class RunStopped(RunEvent, tag="RunStopped", frozen=True):
    forced: bool = False


class RunFailed(RunEvent, tag="RunFailed", frozen=True):
    error: str
    node_id: str | None = None


class RunCompleted(RunEvent, tag="RunCompleted", frozen=True):
    pass


class RunInterrupted(RunEvent, tag="RunInterrupted", frozen=True):
    """The server stopped under a running run (after a last checkpoint, without ending the
    flow's streams); it is restarted on the next start."""

    reason: str


class RunRecovered(RunEvent, tag="RunRecovered", frozen=True):
    """Restarted after an interruption or crash, from checkpoint `checkpoint_id` (None: from
    the start, or from offsets an older server reported) with these source offsets."""

    offsets: dict[str, Any]
    checkpoint_id: int | None = None


class CheckpointCommitted(RunEvent, tag="CheckpointCommitted", frozen=True):
    """Checkpoint `checkpoint_id` is complete: every sink prepared the data before its
    barrier. A restart resumes each source at `offsets` and each stateful node from its
    state file (`state`: node id -> path relative to the data directory)."""

    checkpoint_id: int
    offsets: dict[str, Any]
    state: dict[str, str] = msgspec.field(default_factory=dict)


class OffsetsReported(RunEvent, tag="OffsetsReported", frozen=True):
    """Source offsets journaled by servers before checkpoints carried node state (decoded
    for the journals that hold them; no longer written)."""

    offsets: dict[str, Any]


class MetricsReported(RunEvent, tag="MetricsReported", frozen=True):
    metrics: dict[str, Any]


AnyRunEvent = (
    RunCreated
    | RunStarted
    | RunPaused
    | RunResumed
    | RunStopped
    | RunFailed
    | RunCompleted
    | RunInterrupted
    | RunRecovered
    | CheckpointCommitted
    | OffsetsReported
    | MetricsReported
)
_decoder = msgspec.json.Decoder(AnyRunEvent)


def decode_run_event(data: bytes) -> RunEvent:
    return _decoder.decode(data)


class RunStatus(msgspec.Struct, kw_only=True):
    run_id: str
    flow_id: str
    flow_version: int
    state: RunState = "configured"
    started_at: float | None = None
    updated_at: float | None = None
    error: str | None = None
    error_node: str | None = None
    #: Source offsets of the last committed checkpoint (node id -> offset): where a restart
    #: resumes.
    offsets: dict[str, Any] = msgspec.field(default_factory=dict)
    #: The last committed checkpoint (None: none yet).
    checkpoint_id: int | None = None
    #: Its state files: stateful node id -> path relative to the data directory.
    state_files: dict[str, str] = msgspec.field(default_factory=dict)
    #: Set when the server stopped under the run; cleared when it is recovered.
    interrupted: bool = False


#: Which events each state accepts; anything else is an invalid transition.
TRANSITIONS: dict[RunState, set[type[RunEvent]]] = {
    "configured": {RunStarted, RunFailed},
    "running": {RunPaused, RunStopped, RunFailed, RunCompleted, RunInterrupted, RunRecovered},
    "paused": {RunResumed, RunStopped, RunFailed, RunInterrupted, RunRecovered},
}


def apply(status: RunStatus | None, event: RunEvent, at: float) -> RunStatus:
    """Fold one event into the run's status."""
    if isinstance(event, RunCreated):
        return RunStatus(
            run_id=event.run_id,
            flow_id=event.flow_id,
            flow_version=event.flow_version,
            updated_at=at,
        )
    assert status is not None, "a run stream starts with RunCreated"
    status = msgspec.structs.replace(status, updated_at=at)
    match event:
        case RunStarted():
            status.state, status.started_at = "running", at
        case RunPaused():
            status.state = "paused"
        case RunResumed():
            status.state = "running"
        case RunStopped():
            status.state = "stopped"
        case RunFailed(error=error, node_id=node_id):
            status.state, status.error, status.error_node = "failed", error, node_id
        case RunCompleted():
            status.state = "completed"
        case RunInterrupted():
            status.interrupted = True
        case RunRecovered(offsets=offsets):
            # The restarted engine runs; a run recovered paused is paused again next.
            status.state, status.interrupted, status.offsets = "running", False, dict(offsets)
        case CheckpointCommitted(checkpoint_id=checkpoint_id, offsets=offsets, state=state):
            status.checkpoint_id = checkpoint_id
            status.offsets, status.state_files = dict(offsets), dict(state)
        case OffsetsReported(offsets=offsets):
            status.offsets = {**status.offsets, **offsets}
        case MetricsReported():
            pass
    return status


def allowed(status: RunStatus, event: RunEvent) -> bool:
    if isinstance(event, CheckpointCommitted | OffsetsReported | MetricsReported):
        return status.state in ACTIVE_STATES
    return type(event) in TRANSITIONS.get(status.state, set())
