"""A FlowRun's lifecycle as one state machine: its phases, the requests that move it, how a
stop was asked for, and the state it shows (the run aggregate's RunState).

    created -> opening (start) -> running (opened) <-> paused (pause, resume)
    running | paused -> draining (stop) | interrupting (interrupt) | cancelling (force)
    draining | interrupting -> cancelling (force; cancel: the interruption's checkpoint is over)
    running | paused | draining | interrupting -> closing (ended: every node task ended)
    created | opening | cancelling | closing -> failed | stopped | completed (finish)

A graceful stop drains (`draining`), a forced one cancels the node tasks (`cancelling`), an
interruption takes a last checkpoint without ending the streams (`interrupting`), then
cancels. The kind of stop asked for only goes up: graceful < forced < interrupt (a forced
stop during an interruption still ends as an interruption, which a restart resumes).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from dataflow.events.run_events import FINAL_STATES, RunState

Phase = Literal[
    "created",
    "opening",
    "running",
    "paused",
    "draining",
    "interrupting",
    "cancelling",
    "closing",
    "stopped",
    "failed",
    "completed",
]
#: What moves the machine: the run's callers (start, pause, resume, stop, force, interrupt)
#: and the run itself (opened: processors open; cancel: the interruption's checkpoint is
#: over; ended: every node task ended).
Request = Literal[
    "start", "opened", "pause", "resume", "stop", "force", "interrupt", "cancel", "ended"
]
StopKind = Literal["graceful", "forced", "interrupt"]
_RANK: dict[StopKind, int] = {"graceful": 1, "forced": 2, "interrupt": 3}


class Step(NamedTuple):
    phase: Phase
    #: The kind of stop the step asks for (kept if a higher one was asked for already).
    stop: StopKind | None = None
    #: The state shown after the step; None: the phase's (SHOWN).
    shows: RunState | None = None


#: The state each phase shows; None: the one shown when the phase was entered (a forced stop
#: and closing change nothing a user sees until the run ends).
SHOWN: dict[Phase, RunState | None] = {
    "created": "created",
    "opening": "created",
    "running": "running",
    "paused": "paused",
    "draining": "stopping",
    "interrupting": "stopping",
    "cancelling": None,
    "closing": None,
    "stopped": "stopped",
    "failed": "failed",
    "completed": "completed",
}

_STOPS: dict[Request, Step] = {
    "stop": Step("draining", "graceful"),
    "force": Step("cancelling", "forced"),
    "interrupt": Step("interrupting", "interrupt"),
    "ended": Step("closing"),
}

#: phase -> request -> step. A request missing here changes nothing in that phase.
TRANSITIONS: dict[Phase, dict[Request, Step]] = {
    # Never started: a stop ends the run at once (FlowRun finishes it).
    "created": {
        "start": Step("opening"),
        "stop": Step("created", "graceful"),
        "force": Step("created", "forced"),
    },
    # Processors are opening: a stop is kept, and start() ends the run once they are open.
    "opening": {
        "opened": Step("running"),
        "stop": Step("opening", "graceful"),
        "force": Step("opening", "forced"),
    },
    "running": {"pause": Step("paused"), **_STOPS},
    "paused": {"resume": Step("running"), **_STOPS},
    "draining": {"force": Step("cancelling", "forced"), "ended": Step("closing")},
    "interrupting": {
        "force": Step("cancelling", "forced"),
        "cancel": Step("cancelling"),
        "ended": Step("closing"),
    },
    "cancelling": {},
    # Every node ended by itself; a stop asked for now still makes the run `stopped`.
    "closing": {
        "stop": Step("closing", "graceful", shows="stopping"),
        "force": Step("closing", "forced"),
    },
    "stopped": {},
    "failed": {},
    "completed": {},
}


class Lifecycle:
    """Where a run is (`phase`), the kind of stop asked for (`stop`) and the state it shows
    (`state`). `request()` moves it by TRANSITIONS; `finish()` ends it."""

    def __init__(self) -> None:
        self.phase: Phase = "created"
        self.stop: StopKind | None = None
        self.state: RunState = "created"

    def request(self, request: Request) -> bool:
        """Apply `request`; False when it changes nothing in this phase."""
        step = TRANSITIONS[self.phase].get(request)
        if step is None:
            return False
        before = (self.phase, self.stop, self.state)
        self.phase = step.phase
        if step.stop is not None and (self.stop is None or _RANK[step.stop] > _RANK[self.stop]):
            self.stop = step.stop
        self.state = step.shows or SHOWN[step.phase] or self.state
        return (self.phase, self.stop, self.state) != before

    def finish(self, failed: bool) -> RunState:
        """End the run (its processors are closed): failed on an error; stopped when it was
        cancelled, or a graceful or forced stop was asked for; otherwise completed (the data
        ended, also during an interruption: nothing is left to resume)."""
        if self.final:
            return self.state
        final: Literal["failed", "stopped", "completed"]
        if failed:
            final = "failed"
        elif self.phase == "cancelling" or self.stop in ("graceful", "forced"):
            final = "stopped"
        else:
            final = "completed"
        self.phase = final
        self.state = final
        return final

    @property
    def final(self) -> bool:
        return self.phase in FINAL_STATES

    # -- what the node loops read (RunControl) -------------------------------------------
    @property
    def stopping(self) -> bool:
        """Sources stop reading: a stop was asked for, or the tasks are being cancelled."""
        return self.stop in ("graceful", "forced") or self.phase == "cancelling"

    @property
    def forced(self) -> bool:
        """Node tasks are cancelled rather than drained."""
        return self.stop == "forced" or self.phase == "cancelling"

    @property
    def interrupting(self) -> bool:
        """Stopping to be restarted: no end of stream."""
        return self.stop == "interrupt"

    @property
    def takes_checkpoints(self) -> bool:
        """Whether a checkpoint can begin: the nodes run, and no interruption took the last."""
        return self.phase not in ("created", "opening") and not self.final and not self.interrupting
