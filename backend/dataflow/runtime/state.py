"""The outcome of a run and the notices a run sends to its subscribers (its states are the
run aggregate's `RunState`, declared once in events/run_events.py)."""

from __future__ import annotations

from typing import Any

import msgspec

from dataflow.events.run_events import FINAL_STATES, RunState

__all__ = [
    "FINAL_STATES",
    "CheckpointCompleted",
    "OffsetsChanged",
    "RunNotice",
    "RunOutcome",
    "RunState",
    "StateChanged",
]


class RunOutcome(msgspec.Struct, kw_only=True, frozen=True):
    state: RunState
    error: str | None = None
    #: The node whose error failed the run.
    error_node: str | None = None
    #: Stopped by cancelling the node tasks rather than by draining.
    forced: bool = False
    #: Stopped to be restarted (`interrupt()`): no end of stream, resume from the last
    #: committed checkpoint.
    interrupted: bool = False


class RunNotice(msgspec.Struct, tag_field="type", kw_only=True, frozen=True):
    """Something a run manager may journal or push to WebSocket clients."""

    run_id: str


class StateChanged(RunNotice, frozen=True):
    state: RunState
    previous: RunState
    error: str | None = None
    error_node: str | None = None


class OffsetsChanged(RunNotice, frozen=True):
    """A source reported a new offset (after every batch: throttle persistence yourself)."""

    node_id: str
    offset: Any


class CheckpointCompleted(RunNotice, frozen=True):
    """Every record before barrier `checkpoint_id` reached every terminal node (sinks
    prepared it, stateful nodes snapshotted): it is committed next."""

    checkpoint_id: int
    offsets: dict[str, Any]
