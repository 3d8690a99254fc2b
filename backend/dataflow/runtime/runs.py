"""The run manager: starts flows on the engine, records each transition in the run store
(the engine commits checkpoints to it too), publishes the live view, and restarts interrupted
runs from their last checkpoint when the server starts again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from dataflow.events.actor import as_system
from dataflow.events.flows import FlowStore, HistoryEntry
from dataflow.events.journal import Journal
from dataflow.events.run_events import (
    ACTIVE_STATES,
    CheckpointCommitted,
    MetricsReported,
    OffsetsReported,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunInterrupted,
    RunPaused,
    RunRecovered,
    RunResumed,
    RunStarted,
    RunState,
    RunStatus,
    RunStopped,
)
from dataflow.events.runs import InvalidTransition, RunStore
from dataflow.graph import FlowPlan, Issue
from dataflow.graph.checker import Checker
from dataflow.model import Flow
from dataflow.processor import Registry
from dataflow.runtime.checkpoints import (
    Checkpoint,
    JournalCheckpoints,
    read_state,
    remove_run_state,
    remove_state_except,
)
from dataflow.runtime.engine import FlowBuildError, FlowRun, RunContext
from dataflow.runtime.live import ErrorMessage, LiveMessage, MetricsMessage, StateMessage
from dataflow.runtime.state import FINAL_STATES
from dataflow.secrets import Secrets
from dataflow.security.server_settings import ServerSettingsStore
from dataflow.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["FlowNotRunnable", "InvalidTransition", "RunManager"]


class FlowNotRunnable(Exception):
    def __init__(self, flow_id: str, issues: list[Issue]):
        super().__init__(f"flow {flow_id!r} has {len(issues)} validation error(s); fix them first")
        self.issues = issues


@dataclass
class _Run:
    """A run this server executes: its engine and the tasks around it. Its status is the
    run store's."""

    store: RunStore
    flow_id: str
    run_id: str
    engine: FlowRun | None = None
    tasks: list[asyncio.Task] = field(default_factory=list)
    interrupt_reason: str = "server shutdown"
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def status(self) -> RunStatus:
        return self.store.run(self.run_id)


class RunManager:
    """Orchestrates runs: what is recorded and read lives in the run store (`store`); this
    drives the engines, the live view and the recovery policy."""

    def __init__(
        self,
        journal: Journal,
        flows: FlowStore,
        registry: Registry,
        settings: Settings,
        secrets: Secrets | None = None,
        checker: Checker | None = None,
        server: ServerSettingsStore | None = None,
    ):
        self.secrets = secrets
        #: The server's run-time settings: whether python nodes may run (both gates).
        self.server = server or ServerSettingsStore(journal, allow_python=settings.allow_python)
        self.store = RunStore(journal)
        self.flows = flows
        self.registry = registry
        self.settings = settings
        self.reach = settings.reach()
        #: Edge sample queries running at once (the others wait for a slot).
        self.sample_slots = asyncio.Semaphore(settings.sample_concurrency)
        #: Validation off the event loop (run starts and recovery check their flow).
        self.checker = checker or Checker(
            registry,
            secrets,
            self.reach,
            workers=settings.validation_workers,
            timeout_seconds=settings.validation_timeout_seconds,
        )
        self._runs: dict[str, _Run] = {}  # flow id -> its latest run, if this server runs it
        self._locks: dict[str, asyncio.Lock] = {}
        self._subscribers: dict[str, set[asyncio.Queue[LiveMessage]]] = {}

    # -- read side: the run store's projection -----------------------------------------
    def status(self, flow_id: str) -> RunStatus | None:
        return self.store.status(flow_id)

    def state_of(self, flow_id: str) -> RunState:
        return self.store.state_of(flow_id)

    def is_active(self, flow_id: str) -> bool:
        return self.store.is_active(flow_id)

    async def history(self, flow_id: str) -> list[HistoryEntry]:
        return await self.store.history(flow_id)

    def engine(self, flow_id: str) -> FlowRun | None:
        run = self._runs.get(flow_id)
        return run.engine if run else None

    # -- write side --------------------------------------------------------------------
    def _lock(self, flow_id: str) -> asyncio.Lock:
        return self._locks.setdefault(flow_id, asyncio.Lock())

    async def _record(self, run: _Run, *events: RunEvent) -> None:
        """Append events to the run's stream (the store's fold rejects invalid transitions)
        and tell the live view of every transition."""
        status = await self.store.append(run.run_id, *events)
        quiet = CheckpointCommitted | OffsetsReported | MetricsReported
        if any(not isinstance(e, quiet) for e in events):
            self._publish(status.flow_id, StateMessage(run=status))

    async def start(self, flow_id: str) -> RunStatus:
        async with self._lock(flow_id):
            if self.is_active(flow_id):
                raise InvalidTransition("start", self.state_of(flow_id), flow_id)
            state = await self.flows.get(flow_id)
            await self.server.refresh()
            checked = await self.checker.flow(state.flow, python_gate=self.server.python_gate())
            if checked.plan is None:
                raise FlowNotRunnable(flow_id, checked.report.errors)
            created = await self.store.create(flow_id, state.version)
            self._publish(flow_id, StateMessage(run=created))
            run = self._runs[flow_id] = _Run(self.store, flow_id, created.run_id)
            await self._launch(run, checked.plan, started=RunStarted())
            return run.status

    async def _launch(
        self,
        run: _Run,
        plan: FlowPlan | Flow,
        started: RunEvent,
        *,
        restore: Checkpoint | None = None,
        offsets: dict[str, Any] | None = None,
        paused: bool = False,
    ) -> None:
        context = RunContext(
            flow_id=run.flow_id,
            run_id=run.run_id,
            data_dir=self.settings.data_path,
            allow_python=self.server.python_gate() is None,
            sample_size=self.settings.sample_size,
            reach=self.reach,
            mask=self._mask,
        )
        run.finished = asyncio.Event()
        flow = plan.flow if isinstance(plan, FlowPlan) else plan
        try:
            if not isinstance(plan, FlowPlan):  # a recovered run: its version is checked again
                await self.server.refresh()
                checked = await self.checker.flow(plan, python_gate=self.server.python_gate())
                if checked.plan is None:
                    raise FlowBuildError.from_issues(checked.report.errors)
                plan = checked.plan
            engine = FlowRun(
                plan.with_secrets(self.secrets),
                context=context,
                offsets=offsets,
                restore=restore,
                store=JournalCheckpoints(self.store, run.run_id, self.settings.data_path),
            )
            run.engine = engine
            await engine.start()
        except Exception as exc:
            node_id = getattr(exc, "node_id", None)
            await self._record(run, started, RunFailed(error=self._mask(str(exc)), node_id=node_id))
            run.finished.set()
            return
        if paused:  # recovered paused: running again, then paused, in one append
            await engine.pause()
            await self._record(run, started, RunPaused())
        else:
            await self._record(run, started)
        run.tasks = [
            asyncio.create_task(self._watch(run), name=f"watch-{run.run_id}"),
            asyncio.create_task(self._push_metrics(run), name=f"metrics-{run.run_id}"),
            asyncio.create_task(
                self._checkpoint_loop(run, self._checkpoint_interval(flow)),
                name=f"ckpt-{run.run_id}",
            ),
        ]

    def _checkpoint_interval(self, flow: Flow) -> float:
        """The flow's own interval, unless the server overrides every flow's (tests)."""
        override = self.settings.offsets_report_seconds
        return override if override is not None else flow.settings.checkpoint_interval_seconds

    def _mask(self, text: str) -> str:
        mask = getattr(self.secrets, "mask", None)
        return mask(text) if mask else text

    async def _watch(self, run: _Run) -> None:
        """Turn the engine's end into the run's terminal event. (The engine committed the
        last checkpoint itself before closing the processors: after the end of the data or a
        graceful stop, the final one; at an interruption, the one a restart resumes from.)"""
        as_system()  # what a running flow journals by itself is the server's doing
        assert run.engine is not None
        try:
            outcome = await run.engine.wait()
            if outcome.interrupted:
                await self._record(run, RunInterrupted(reason=run.interrupt_reason))
            elif outcome.state == "completed":
                await self._record(run, RunCompleted())
            elif outcome.state == "failed":
                message = self._mask(outcome.error or "failed")
                self._publish(
                    run.flow_id, ErrorMessage(node_id=outcome.error_node, message=message)
                )
                await self._record(run, RunFailed(error=message, node_id=outcome.error_node))
            elif run.status.state in ACTIVE_STATES:
                await self._record(run, RunStopped(forced=outcome.forced))
            if not outcome.interrupted:  # never restarted: its state files are of no use
                await asyncio.to_thread(remove_run_state, self.settings.data_path, run.run_id)
            self._publish_metrics(run)
        except Exception:
            log.exception("run %s: cannot record its end", run.run_id)
        finally:
            run.finished.set()

    async def _push_metrics(self, run: _Run) -> None:
        """Push metrics every second; every 30 s also keep them in the journal."""
        as_system()  # what a running flow journals by itself is the server's doing
        last_event = time.monotonic()
        while not run.finished.is_set():
            await asyncio.sleep(self.settings.metrics_push_seconds)
            if run.finished.is_set() or run.engine is None:
                break
            self._publish_metrics(run)
            if time.monotonic() - last_event >= self.settings.metrics_event_seconds:
                last_event = time.monotonic()
                metrics = msgspec.to_builtins(run.engine.metrics())
                with contextlib.suppress(InvalidTransition):  # ended between two ticks
                    await self._record(run, MetricsReported(metrics=metrics))

    async def _checkpoint_loop(self, run: _Run, interval: float) -> None:
        """Checkpoint every `interval` seconds; the engine commits each complete one through
        JournalCheckpoints, then sinks publish and sources acknowledge upstream.

        A checkpoint taken while paused completes after resume: this loop then just waits.
        """
        as_system()  # what a running flow journals by itself is the server's doing
        while not run.finished.is_set():
            await asyncio.sleep(interval)
            engine = run.engine
            if run.finished.is_set() or engine is None or engine.state in FINAL_STATES:
                break
            if engine.state == "stopping":
                break  # the engine takes the last checkpoint itself
            try:
                await engine.checkpoint()
            except Exception:
                if run.finished.is_set() or engine.state in FINAL_STATES | {"stopping"}:
                    break
                # The journal refused it, for instance: the next checkpoint covers its data.
                log.exception("run %s: checkpoint failed", run.run_id)

    async def pause(self, flow_id: str) -> RunStatus:
        async with self._lock(flow_id):
            run = self._require(flow_id, "pause", {"running"})
            assert run.engine is not None
            await run.engine.pause()
            await self._record(run, RunPaused())
            return run.status

    async def resume(self, flow_id: str) -> RunStatus:
        async with self._lock(flow_id):
            run = self._require(flow_id, "resume", {"paused"})
            assert run.engine is not None
            await run.engine.resume()
            await self._record(run, RunResumed())
            return run.status

    async def stop(self, flow_id: str, force: bool = False) -> RunStatus:
        async with self._lock(flow_id):
            run = self._require(flow_id, "stop", {"running", "paused"})
            assert run.engine is not None
            await run.engine.stop(force=force)
            await run.finished.wait()
            if run.status.state in ACTIVE_STATES:  # engine ended without saying how
                await self._record(run, RunStopped(forced=force))
            return run.status

    def _require(self, flow_id: str, action: str, states: set[str]) -> _Run:
        run = self._runs.get(flow_id)
        state = self.store.state_of(flow_id)
        if run is None or state not in states or run.engine is None:
            raise InvalidTransition(action, state, flow_id)
        return run

    # -- server start and stop ---------------------------------------------------
    async def recover(self) -> list[str]:
        """Restart the runs that were active when the server last stopped (or crashed),
        each from its last committed checkpoint (source offsets and node state; sinks
        recover up to it); a run without one starts from the beginning."""
        await self.store.load()
        active = self.store.active()
        try:
            # State left by runs that ended while the server went down.
            await asyncio.to_thread(
                remove_state_except, self.settings.data_path, [s.run_id for s in active]
            )
        except OSError:
            log.exception("cannot remove the state of ended runs")
        if not self.settings.resume_runs:
            return []
        restarted = []
        for status in active:
            flow_id = status.flow_id
            run = self._runs[flow_id] = _Run(self.store, flow_id, status.run_id)
            restore: Checkpoint | None = None
            try:
                state = await self.flows.get(flow_id, status.flow_version)
                if status.checkpoint_id is not None:
                    node_state = await asyncio.to_thread(
                        read_state, self.settings.data_path, status.state_files
                    )
                    restore = Checkpoint(status.checkpoint_id, dict(status.offsets), node_state)
            except Exception as exc:
                await self._record(run, RunFailed(error=f"cannot recover: {exc}"))
                continue
            await self._launch(
                run,
                state.flow,
                RunRecovered(offsets=dict(status.offsets), checkpoint_id=status.checkpoint_id),
                restore=restore,
                # Offsets an older server reported, without a checkpoint id or state.
                offsets=None if restore is not None else dict(status.offsets),
                paused=status.state == "paused",
            )
            restarted.append(flow_id)
            log.info(
                "recovered run %s of flow %s from checkpoint %s",
                status.run_id,
                flow_id,
                status.checkpoint_id,
            )
        return restarted

    async def shutdown(self) -> None:
        """Interrupt active runs: each takes a last checkpoint (bounded by
        shutdown_drain_seconds) and stops without ending its streams, so no transform
        finishes early; the next start resumes it from that checkpoint. A run a user is
        stopping finishes its stop."""
        active = [r for r in self._runs.values() if r.engine and r.status.state in ACTIVE_STATES]
        await asyncio.gather(*(self._interrupt(run, "server shutdown") for run in active))
        for run in self._runs.values():
            for task in run.tasks:
                task.cancel()

    async def _interrupt(self, run: _Run, reason: str) -> None:
        assert run.engine is not None
        run.interrupt_reason = reason
        try:
            await run.engine.interrupt(timeout=self.settings.shutdown_drain_seconds)
            await asyncio.wait_for(run.finished.wait(), 5)
        except Exception:
            log.exception("run %s: interruption failed", run.run_id)

    # -- live view ---------------------------------------------------------------
    def _publish(self, flow_id: str, message: LiveMessage) -> None:
        for queue in self._subscribers.get(flow_id, ()):
            if queue.full():  # a slow browser loses old ticks, never blocks the runtime
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(message)

    def _publish_metrics(self, run: _Run) -> None:
        if run.engine is not None and self._subscribers.get(run.flow_id):
            self._publish(run.flow_id, MetricsMessage(metrics=run.engine.metrics()))

    @contextlib.asynccontextmanager
    async def subscribe(self, flow_id: str) -> AsyncIterator[asyncio.Queue[LiveMessage]]:
        queue: asyncio.Queue[LiveMessage] = asyncio.Queue(maxsize=100)
        self._subscribers.setdefault(flow_id, set()).add(queue)
        try:
            yield queue
        finally:
            self._subscribers[flow_id].discard(queue)

    def active_runs(self) -> list[tuple[RunStatus, FlowRun]]:
        return [(r.status, r.engine) for r in self._runs.values() if r.engine is not None]
