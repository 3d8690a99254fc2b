"""Who causes the events being appended: every journal event names its actor.

The API sets it for each request (the signed-in user, or "user (token NAME)"); work the
server does by itself (a run's end, checkpoints, recovery after a restart) runs as SYSTEM.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

SYSTEM = "dataflow"

current_actor: ContextVar[str] = ContextVar("dataflow_actor", default=SYSTEM)


def with_actor(metadata: dict[str, Any]) -> dict[str, Any]:
    """The metadata plus `actor`: who is acting in this context."""
    return {**metadata, "actor": current_actor.get()}


def as_system() -> None:
    """Mark the current task as the server's own work (background loops of a run)."""
    current_actor.set(SYSTEM)
