"""A run's lifecycle state machine: every request in every phase, how each run ends, the flags
node loops read, and FlowRun driven through the unusual orders of calls."""

from __future__ import annotations

import asyncio
import typing

import pytest

from dataflow.events import run_events
from dataflow.processor import ProcessorSpec
from dataflow.runtime import FlowRun, RunNotice, StateChanged, state
from dataflow.runtime.lifecycle import Lifecycle, Phase, Request
from dataflow.testing import registry_with
from tests.runtime.test_engine_lifecycle import REGISTRY, ClosingSink, endless

#: How to reach each live phase from a new run.
PATHS: dict[str, list[Request]] = {
    "created": [],
    "opening": ["start"],
    "running": ["start", "opened"],
    "paused": ["start", "opened", "pause"],
    "draining": ["start", "opened", "stop"],
    "interrupting": ["start", "opened", "interrupt"],
    "cancelling": ["start", "opened", "force"],
    "closing": ["start", "opened", "ended"],
}

#: (phase, request) -> (phase, state shown, stop asked for) for every request that moves the
#: run; any other request changes nothing in that phase.
MOVES: dict[tuple[str, str], tuple[str, str, str | None]] = {
    ("created", "start"): ("opening", "created", None),
    ("created", "stop"): ("created", "created", "graceful"),
    ("created", "force"): ("created", "created", "forced"),
    ("opening", "opened"): ("running", "running", None),
    ("opening", "stop"): ("opening", "created", "graceful"),
    ("opening", "force"): ("opening", "created", "forced"),
    ("running", "pause"): ("paused", "paused", None),
    ("running", "stop"): ("draining", "stopping", "graceful"),
    ("running", "force"): ("cancelling", "running", "forced"),
    ("running", "interrupt"): ("interrupting", "stopping", "interrupt"),
    ("running", "ended"): ("closing", "running", None),
    ("paused", "resume"): ("running", "running", None),
    ("paused", "stop"): ("draining", "stopping", "graceful"),
    ("paused", "force"): ("cancelling", "paused", "forced"),
    ("paused", "interrupt"): ("interrupting", "stopping", "interrupt"),
    ("paused", "ended"): ("closing", "paused", None),
    ("draining", "force"): ("cancelling", "stopping", "forced"),
    ("draining", "ended"): ("closing", "stopping", "graceful"),
    # A forced stop during an interruption still ends as an interruption (resumed later).
    ("interrupting", "force"): ("cancelling", "stopping", "interrupt"),
    ("interrupting", "cancel"): ("cancelling", "stopping", "interrupt"),
    ("interrupting", "ended"): ("closing", "stopping", "interrupt"),
    ("closing", "stop"): ("closing", "stopping", "graceful"),
    ("closing", "force"): ("closing", "running", "forced"),
}


def reach(phase: str) -> Lifecycle:
    lifecycle = Lifecycle()
    for request in PATHS[phase]:
        assert lifecycle.request(request), f"{request} refused on the way to {phase}"
    assert lifecycle.phase == phase
    return lifecycle


def ended(phase: str, failed: bool = False) -> Lifecycle:
    lifecycle = reach(phase)
    lifecycle.finish(failed=failed)
    return lifecycle


def test_the_paths_and_moves_cover_every_phase_and_request():
    live = set(typing.get_args(Phase)) - set(run_events.FINAL_STATES)
    assert set(PATHS) == live
    assert {request for _, request in MOVES} == set(typing.get_args(Request))


@pytest.mark.parametrize("phase", list(PATHS))
@pytest.mark.parametrize("asked", typing.get_args(Request))
def test_each_request_in_each_live_phase(phase, asked):
    lifecycle = reach(phase)
    before = (lifecycle.phase, lifecycle.state, lifecycle.stop)
    moved = lifecycle.request(asked)
    after = (lifecycle.phase, lifecycle.state, lifecycle.stop)
    if (phase, asked) in MOVES:
        assert moved
        assert after == MOVES[phase, asked]
    else:
        assert not moved
        assert after == before


@pytest.mark.parametrize("final", ["stopped", "failed", "completed"])
@pytest.mark.parametrize("asked", typing.get_args(Request))
def test_an_ended_run_ignores_every_request(final, asked):
    lifecycle = {
        "stopped": lambda: ended("cancelling"),
        "failed": lambda: ended("running", failed=True),
        "completed": lambda: ended("closing"),
    }[final]()
    assert lifecycle.state == final
    assert not lifecycle.request(asked)
    assert (lifecycle.phase, lifecycle.state) == (final, final)
    assert lifecycle.finish(failed=True) == final  # ended once, for good


@pytest.mark.parametrize(
    ("path", "failed", "final"),
    [
        (["stop"], False, "stopped"),  # never started
        (["start", "force"], False, "stopped"),  # stopped while opening
        (["start"], True, "failed"),  # a processor failed to open
        (["start", "opened", "ended"], False, "completed"),  # the data ended
        (["start", "opened", "ended"], True, "failed"),
        (["start", "opened", "stop", "ended"], False, "stopped"),  # drained
        (["start", "opened", "force"], False, "stopped"),
        (["start", "opened", "interrupt", "cancel"], False, "stopped"),
        # Every node ended by itself during the interruption: nothing is left to resume.
        (["start", "opened", "interrupt", "ended"], False, "completed"),
        (["start", "opened", "ended", "stop"], False, "stopped"),  # asked while closing
    ],
)
def test_how_a_run_ends(path, failed, final):
    lifecycle = Lifecycle()
    for request in path:
        lifecycle.request(request)
    assert lifecycle.finish(failed=failed) == final
    assert (lifecycle.phase, lifecycle.state, lifecycle.final) == (final, final, True)


@pytest.mark.parametrize(
    ("path", "flags"),
    [
        # (stopping, forced, interrupting, takes checkpoints)
        ([], (False, False, False, False)),
        (["start"], (False, False, False, False)),
        (["start", "opened"], (False, False, False, True)),
        (["start", "opened", "pause"], (False, False, False, True)),
        (["start", "opened", "stop"], (True, False, False, True)),
        (["start", "opened", "stop", "force"], (True, True, False, True)),
        (["start", "opened", "force"], (True, True, False, True)),
        (["start", "opened", "interrupt"], (False, False, True, False)),
        (["start", "opened", "interrupt", "cancel"], (True, True, True, False)),
        (["start", "opened", "ended"], (False, False, False, True)),
    ],
)
def test_what_node_loops_read(path, flags):
    lifecycle = Lifecycle()
    for request in path:
        lifecycle.request(request)
    read = (
        lifecycle.stopping,
        lifecycle.forced,
        lifecycle.interrupting,
        lifecycle.takes_checkpoints,
    )
    assert read == flags


def test_the_engine_and_the_journal_share_one_run_state():
    assert state.RunState is run_events.RunState
    assert state.FINAL_STATES is run_events.FINAL_STATES
    shown = set(typing.get_args(run_events.RunState))
    assert {reach(phase).state for phase in PATHS} <= shown


# -- FlowRun through the machine --------------------------------------------------------------
def states(notices: list[RunNotice]) -> list[tuple[str, str]]:
    return [(n.previous, n.state) for n in notices if isinstance(n, StateChanged)]


async def started(make_flow, **source) -> tuple[FlowRun, list[RunNotice]]:
    flow = make_flow({"src": endless(**source), "out": "closing_sink"}, ["src -> out"])
    run = FlowRun.of(flow, REGISTRY)
    notices: list[RunNotice] = []
    run.subscribe(notices.append)
    await run.start()
    return run, notices


async def test_a_graceful_stop_shows_stopping_and_a_forced_one_does_not(make_flow):
    graceful, notices = await started(make_flow, delay=0.001)
    outcome = await asyncio.wait_for(graceful.stop(), 10)
    assert (outcome.state, outcome.forced) == ("stopped", False)
    assert states(notices) == [
        ("created", "running"),
        ("running", "stopping"),
        ("stopping", "stopped"),
    ]

    forced, notices = await started(make_flow, delay=0.001)
    await forced.pause()
    outcome = await asyncio.wait_for(forced.stop(force=True), 10)
    assert (outcome.state, outcome.forced) == ("stopped", True)
    assert states(notices) == [("created", "running"), ("running", "paused"), ("paused", "stopped")]


async def test_interrupting_a_run_that_never_started_is_a_stop(make_flow):
    run = FlowRun.of(make_flow({"src": endless(), "out": "closing_sink"}, ["src -> out"]), REGISTRY)
    outcome = await run.interrupt(timeout=1)
    assert (outcome.state, outcome.interrupted, outcome.forced) == ("stopped", False, False)
    with pytest.raises(RuntimeError, match="already started"):
        await run.start()


async def test_a_forced_stop_during_an_interruption_still_ends_interrupted(make_flow, until):
    release = asyncio.Event()

    class SlowToPrepare(ClosingSink):
        """Its prepare waits for `release`: the interruption's checkpoint cannot complete."""

        spec = ProcessorSpec(name="slow_to_prepare", category="sink", summary="t", inputs=("in",))

        async def prepare_checkpoint_async(self, checkpoint_id: int) -> None:
            await release.wait()

    flow = make_flow({"src": endless(0.001), "out": "slow_to_prepare"}, ["src -> out"])
    run = FlowRun.of(flow, registry_with(SlowToPrepare))
    await run.start()
    await until(lambda: run.offsets().get("src", 0) > 3)
    interrupting = asyncio.create_task(run.interrupt())
    await until(lambda: run.state == "stopping")
    assert run.interrupting and not run.stopping
    with pytest.raises(RuntimeError, match="no checkpoint possible"):
        await run.checkpoint()
    stopping = asyncio.create_task(run.stop(force=True))
    await asyncio.sleep(0)  # the node tasks are cancelled; the prepare call may end now
    release.set()
    outcome = await asyncio.wait_for(stopping, 10)
    assert (outcome.state, outcome.interrupted, outcome.forced) == ("stopped", True, False)
    assert (await asyncio.wait_for(interrupting, 10)) == outcome
    assert run.processor("out").closed == 1


async def test_a_second_interrupt_waits_for_the_first(make_flow, until):
    run, notices = await started(make_flow, delay=0.001)
    await until(lambda: run.offsets().get("src", 0) > 3)
    first, second = await asyncio.wait_for(
        asyncio.gather(run.interrupt(timeout=5), run.interrupt(timeout=5)), 10
    )
    assert first == second
    assert (first.state, first.interrupted) == ("stopped", True)
    assert states(notices) == [
        ("created", "running"),
        ("running", "stopping"),
        ("stopping", "stopped"),
    ]
