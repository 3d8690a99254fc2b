"""FlowRun: one flow running in the current event loop, one asyncio task per node."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataflow.graph import FlowPlan, Issue, check_flow
from dataflow.model import Flow, new_id
from dataflow.processor.base import Context, Processor
from dataflow.processor.reach import Reach
from dataflow.processor.registry import Registry
from dataflow.runtime.checkpoints import (
    Checkpoint,
    CheckpointCoordinator,
    CheckpointStore,
    CheckpointTracker,
    MemoryCheckpoints,
)
from dataflow.runtime.lifecycle import Lifecycle, Request
from dataflow.runtime.memory import use_pipeline_memory_pool
from dataflow.runtime.metrics import FlowMetrics, NodeMetrics, edge_metrics
from dataflow.runtime.nodes import EdgeRuntime, NodeFailed, NodeRunner, describe
from dataflow.runtime.sample import SampleResult
from dataflow.runtime.state import (
    CheckpointCompleted,
    OffsetsChanged,
    RunNotice,
    RunOutcome,
    RunState,
    StateChanged,
)
from dataflow.secrets import Secrets

log = logging.getLogger(__name__)

Listener = Callable[[RunNotice], None]

#: After a failure or a forced stop, how long close() waits for processor calls still
#: running in worker threads.
CLOSE_GRACE_SECONDS = 10.0


@dataclass
class RunContext:
    """Where a run runs: handed to every processor through its Context."""

    flow_id: str = ""
    run_id: str = field(default_factory=lambda: new_id("run-"))
    data_dir: Path = field(default_factory=Path.cwd)
    allow_python: bool = False
    #: Records kept per edge for the data preview; 0 turns sampling off.
    sample_size: int = 200
    #: What the run's processors may touch (file roots, hosts); no limit by default.
    reach: Reach = field(default_factory=Reach)
    #: Hides secret values in text that leaves the run (node errors in its metrics).
    mask: Callable[[str], str] = field(default=lambda text: text)
    #: Node loggers are its children, named by node id.
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("dataflow.run"))


class FlowBuildError(ValueError):
    """The flow cannot run as it is; the message names the node or edge."""

    def __init__(
        self,
        message: str,
        *,
        node_id: str | None = None,
        edge_id: str | None = None,
        issues: Sequence[Issue] = (),
    ):
        super().__init__(message)
        self.node_id = node_id
        self.edge_id = edge_id
        self.issues = list(issues)

    @classmethod
    def from_issues(cls, issues: Sequence[Issue]) -> FlowBuildError:
        first = issues[0]
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        return cls(
            f"{first.path}: {first.message}{more}",
            node_id=first.node_id,
            edge_id=first.edge_id,
            issues=issues,
        )


class FlowRun:
    """Runs one flow: `await start()`, then `pause()`/`resume()`/`stop()`/`interrupt()`,
    `checkpoint()`, `await wait()`.

    It runs a plan (dataflow.graph.check_flow): the flow is already known to be valid, so
    the engine checks nothing the plan guarantees. `FlowRun.of(flow, registry)` checks and
    plans in one step. A processor whose constructor raises gives FlowBuildError naming the
    node; everything that goes wrong once started ends in state `failed`.

    `restore` is the committed checkpoint a restarted run resumes from (source offsets, node
    state; sinks recover up to its id); `offsets` alone resumes sources only. Complete
    checkpoints are committed to `store` (default: kept in memory) before sinks publish them.

    Its lifecycle is one state machine (runtime/lifecycle.py): `state`, `outcome` and what the
    node loops read (`stopping`, `forced`, `interrupting`) all derive from it. The checkpoint
    protocol is the CheckpointCoordinator's (runtime/checkpoints.py).
    """

    def __init__(
        self,
        plan: FlowPlan,
        *,
        context: RunContext | None = None,
        offsets: Mapping[str, Any] | None = None,
        restore: Checkpoint | None = None,
        store: CheckpointStore | None = None,
    ):
        if restore is not None and offsets is not None:
            raise ValueError("give the checkpoint to restore or offsets, not both")
        flow = plan.flow
        self.flow = flow
        self.context = context or RunContext(flow_id=flow.id)
        self.run_id = self.context.run_id
        #: Cleared while paused: sources and node inboxes wait on it.
        self.flowing = asyncio.Event()
        self.flowing.set()
        #: Where the run is, how a stop was asked for, and the state it shows.
        self._lifecycle = Lifecycle()
        self._listeners: list[Listener] = []
        self._restored = restore
        self._restore = dict(restore.offsets if restore is not None else offsets or {})
        self._offsets: dict[str, Any] = dict(self._restore)
        committed_id = restore.checkpoint_id if restore is not None else 0
        self._error: str | None = None
        self._error_node: str | None = None
        self._done = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._edges = {e.id: EdgeRuntime(e, self.context.sample_size) for e in plan.edges}
        self._runners = self._build(plan)
        self._checkpoints = CheckpointTracker(
            (r.node.id for r in self._runners.values() if r.kind == "source"),
            (r.node.id for r in self._runners.values() if r.terminal),
            last_id=committed_id,
        )
        self._coordinator = CheckpointCoordinator(
            self.run_id,
            self._checkpoints,
            self._runners,
            store if store is not None else MemoryCheckpoints(),
            committed_id=committed_id,
            completed=self._checkpoint_completed,
            fail=self._fail,
        )

    @classmethod
    def of(
        cls,
        flow: Flow,
        registry: Registry,
        *,
        secrets: Secrets | None = None,
        context: RunContext | None = None,
        offsets: Mapping[str, Any] | None = None,
        restore: Checkpoint | None = None,
        store: CheckpointStore | None = None,
    ) -> FlowRun:
        """Check the flow and run its plan; FlowBuildError carries the first validation
        error (the whole report is on `.issues`). With `secrets`, references resolve."""
        checked = check_flow(flow, registry, secrets, (context or RunContext()).reach)
        if checked.plan is None:
            raise FlowBuildError.from_issues(checked.report.errors)
        return cls(
            checked.plan.with_secrets(secrets),
            context=context,
            offsets=offsets,
            restore=restore,
            store=store,
        )

    # -- building ------------------------------------------------------------------------
    def _build(self, plan: FlowPlan) -> dict[str, NodeRunner]:
        processors: dict[str, Processor] = {}
        for step in plan:
            node = step.node
            ctx = Context(
                node_id=node.id,
                flow_id=self.context.flow_id,
                run_id=self.run_id,
                data_dir=self.context.data_dir,
                allow_python=self.context.allow_python,
                logger=self.context.logger.getChild(node.id),
                delivery=plan.flow.settings.delivery,
                reach=self.context.reach,
            )
            try:
                processors[node.id] = step.cls(step.config, ctx)
            except Exception as exc:
                raise FlowBuildError(
                    f"node '{node.id}' ({node.type}): {describe(exc)}", node_id=node.id
                ) from exc
        inputs: dict[str, list[tuple[str, EdgeRuntime]]] = {p.id: [] for p in plan}
        outputs: dict[str, dict[str, list[EdgeRuntime]]] = {
            p.id: {port: [] for port in p.outputs} for p in plan
        }
        for edge_rt in self._edges.values():
            edge = edge_rt.edge
            outputs[edge.source][edge.source_port].append(edge_rt)
            inputs[edge.target].append((edge.target_port, edge_rt))
        runners = {
            p.id: NodeRunner(p.node, processors[p.id], inputs[p.id], outputs[p.id], self)
            for p in plan
        }
        for runner in runners.values():
            runner.processor.context.on_problem = runner.counters.failed
        return runners

    # -- RunControl (what the node loops ask) ---------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._lifecycle.stopping

    @property
    def forced(self) -> bool:
        return self._lifecycle.forced

    @property
    def interrupting(self) -> bool:
        return self._lifecycle.interrupting

    def offset_of(self, node_id: str) -> Any:
        return self._offsets.get(node_id)

    def offset_changed(self, node_id: str, offset: Any) -> None:
        self._offsets[node_id] = offset
        if self._listeners:
            self._notify(OffsetsChanged(run_id=self.run_id, node_id=node_id, offset=offset))

    def barrier_sent(self, node_id: str, checkpoint_id: int) -> None:
        self._coordinator.barrier_sent(node_id, checkpoint_id, self._offsets.get(node_id))

    def barrier_reached(self, node_id: str, checkpoint_id: int) -> None:
        self._coordinator.barrier_reached(node_id, checkpoint_id)

    def state_taken(self, node_id: str, checkpoint_id: int, data: bytes | None) -> None:
        self._coordinator.state_taken(node_id, checkpoint_id, data)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def state(self) -> RunState:
        return self._lifecycle.state

    @property
    def outcome(self) -> RunOutcome:
        lifecycle = self._lifecycle
        return RunOutcome(
            state=lifecycle.state,
            error=self._error,
            error_node=self._error_node,
            forced=lifecycle.stop == "forced",
            interrupted=lifecycle.stop == "interrupt" and lifecycle.state == "stopped",
        )

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(notice)` on every state change, offset and completed checkpoint.

        Listeners run in the event loop and must not block (schedule slow work with
        asyncio.create_task). Returns a function that unsubscribes.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def start(self) -> None:
        """Restore source offsets and node state, let sinks recover (publish what the
        restored checkpoint covers, discard staged data after it; recover(None) without
        one), open every processor (sinks first), then start one task per node. A processor
        failing in any of these fails the run (see `wait()`)."""
        if not self._request("start"):
            raise RuntimeError(f"run {self.run_id} was already started (state {self.state})")
        self._started_at = time.monotonic()
        use_pipeline_memory_pool()
        runners = list(self._runners.values())
        restored = self._restored
        state = dict(restored.state) if restored is not None else {}
        for node_id in sorted(set(state) - set(self._runners)):
            log.warning("run %s: checkpoint state of unknown node %r ignored", self.run_id, node_id)
        step = "restore"
        try:
            for runner in runners:
                node_id = runner.node.id
                if runner.kind == "source" and node_id in self._restore:
                    step = "restore"
                    runner.source.restore(self._restore[node_id])
                elif runner.kind == "transform" and node_id in state and restored is not None:
                    step = f"restore state of checkpoint {restored.checkpoint_id}"
                    await asyncio.to_thread(runner.transform.restore_state, state[node_id])
                elif runner.kind == "sink":
                    committed = restored.checkpoint_id if restored is not None else None
                    step = f"recover (committed checkpoint {committed})"
                    await runner.sink.recover_async(committed)
            step = "open"
            # Downstream first: a source must not produce before its consumers are ready.
            for runner in reversed(runners):
                await runner.open()
        except Exception as exc:
            runner.counters.failed(describe(exc))
            self._record_error(runner, f"{step}: {describe(exc)}")
        if self._error is not None or self._lifecycle.stop is not None:  # failed, or stopped
            await self._close_all(wait_for_calls=False)
            self._finish()
            return
        for runner in runners:
            runner.task = asyncio.create_task(self._guard(runner), name=f"node:{runner.node.id}")
        self._supervisor = asyncio.create_task(self._supervise(), name=f"run:{self.run_id}")
        self._request("opened")

    async def pause(self) -> None:
        """Sources stop pulling and nodes stop taking batches off their queues; calls already
        running finish and their output stays queued."""
        if self._request("pause"):
            self.flowing.clear()

    async def resume(self) -> None:
        if self._request("resume"):
            self._resume_flow()

    def _cancel_pulling(self) -> None:
        # A source waiting inside batches() for input would hold a stop up: its wait is
        # cancelled (it reads that again on restart; its offset did not move).
        for runner in self._runners.values():
            if runner.kind == "source" and runner.pulling and runner.task is not None:
                runner.task.cancel()

    def _resume_flow(self) -> None:
        self.flowing.set()
        for runner in self._runners.values():
            runner.wake.set()

    async def stop(self, force: bool = False, timeout: float | None = None) -> RunOutcome:
        """Graceful: sources stop, queued batches drain through, transforms finish, sinks
        flush; state `stopped`. force=True (or `timeout` seconds of draining) cancels every
        node task now. Processors are closed either way."""
        lifecycle = self._lifecycle
        if lifecycle.final:
            return self.outcome
        self._request("force" if force else "stop")
        if lifecycle.phase == "created":  # never started: nothing to drain
            self._finish()
            return self.outcome
        if lifecycle.phase == "opening":
            return await self.wait()  # start() ends the run once processors are open
        if not force:
            self._resume_flow()
            self._cancel_pulling()
            try:
                await asyncio.wait_for(asyncio.shield(self._done.wait()), timeout)
                return self.outcome
            except TimeoutError:
                log.warning("run %s did not drain within %ss: forcing", self.run_id, timeout)
                self._request("force")
        self._cancel_tasks()
        return await self.wait()

    async def wait(self) -> RunOutcome:
        """Wait for the run to end: completed, stopped or failed."""
        if self._lifecycle.phase == "created":
            raise RuntimeError(f"run {self.run_id} was not started")
        await self._done.wait()
        return self.outcome

    async def interrupt(self, timeout: float | None = None) -> RunOutcome:
        """Stop to be restarted later (server shutdown, moving the run): sources stop after a
        last checkpoint's barrier, the checkpoint is committed, then every node is cancelled
        without end of stream, so no transform finishes (open windows stay in the committed
        state instead of going out early). A restart from that checkpoint gives what an
        uninterrupted run would have. If the checkpoint cannot complete within `timeout`, the
        restart resumes from the previous one. Outcome: `stopped`, interrupted.

        Before the run runs, or while a stop is under way, this is stop(timeout=timeout);
        once every node has ended by itself the run just ends."""
        if self._lifecycle.phase in ("interrupting", "closing"):
            return await self.wait()  # interrupted already, or ending by itself
        if not self._request("interrupt"):
            return await self.stop(timeout=timeout)  # nothing to keep, or a stop under way
        try:
            await self._coordinator.last(timeout, barriers_out=self._stop_reading)
        except Exception as exc:
            log.warning(
                "run %s: no checkpoint at the interruption (%s); a restart resumes from "
                "checkpoint %s",
                self.run_id,
                describe(exc) if not isinstance(exc, TimeoutError) else "timed out",
                self._coordinator.committed_id or "none (from the start)",
            )
        if self._request("cancel"):
            self._cancel_tasks()
        return await self.wait()

    def _stop_reading(self) -> None:
        # Queued data must go through for the barrier to; sources read nothing more.
        self._resume_flow()
        self._cancel_pulling()

    def _cancel_tasks(self) -> None:
        self._abandon_calls()
        for runner in self._runners.values():
            if runner.task is not None:
                runner.task.cancel()

    def _abandon_calls(self) -> None:
        # Cancelling a node's task leaves its call in a worker thread running: tell the
        # processors (Context.cancelled), so that nothing keeps a core busy once stopped.
        for runner in self._runners.values():
            runner.processor.context.cancelled.set()

    async def checkpoint(self, checkpoint_id: int | None = None) -> Checkpoint:
        """Take a checkpoint and commit it; returns it (id, source offsets, node state).

        A barrier goes out from every source (after its current batch, or at once when the
        source waits for input), nodes align and snapshot, sinks prepare; then the store
        commits it, sinks commit (publish) and sources commit (acknowledge upstream).
        Raises RuntimeError when the run fails or ends first (nothing is committed) and
        whatever the store raised. While paused, it completes after resume."""
        if not self._lifecycle.takes_checkpoints:
            raise RuntimeError(f"run {self.run_id} is {self.state}: no checkpoint possible")
        return await self._coordinator.checkpoint(checkpoint_id)

    def _checkpoint_completed(self, checkpoint: Checkpoint) -> None:
        self._notify(
            CheckpointCompleted(
                run_id=self.run_id,
                checkpoint_id=checkpoint.checkpoint_id,
                offsets=dict(checkpoint.offsets),
            )
        )

    async def _final_checkpoint(self) -> None:
        """Every node ended with its input (end of the data, or a graceful stop): the last
        checkpoint covers everything (see CheckpointCoordinator.final)."""
        try:
            await self._coordinator.final()
        except Exception as exc:
            if self._error is None:
                self._error = f"last checkpoint: {describe(exc)}"
            log.error("run %s: the last checkpoint failed: %s", self.run_id, describe(exc))

    # -- supervision ---------------------------------------------------------------------
    async def _guard(self, runner: NodeRunner) -> None:
        try:
            await runner.run()
        except asyncio.CancelledError:
            runner.counters.state = "cancelled"
            raise
        except NodeFailed as exc:
            self._fail(runner, exc.message)
            return
        except Exception as exc:  # a bug in the engine itself: still name the node
            log.exception("node %s crashed", runner.node.id)
            self._fail(runner, runner.error_text(describe(exc)))
            return
        self._coordinator.node_finished(runner.node.id, self._offsets.get(runner.node.id))

    def _record_error(self, runner: NodeRunner, message: str) -> None:
        if not message.startswith(f"{runner.node.type} in node "):
            message = runner.error_text(message)
        runner.counters.state = "failed"
        if runner.counters.last_error is None:
            runner.counters.last_error = message
        if self._error is None:
            self._error, self._error_node = message, runner.node.id

    def _fail(self, runner: NodeRunner, message: str) -> None:
        self._record_error(runner, message)
        runner.processor.log.error("%s", message)
        self._abandon_calls()
        current = asyncio.current_task()
        for other in self._runners.values():
            if other.task is not None and other.task is not current:
                other.task.cancel()

    async def _supervise(self) -> None:
        tasks = [r.task for r in self._runners.values() if r.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        self._request("ended")
        drained = self._error is None and all(r.finished for r in self._runners.values())
        if drained:
            await self._final_checkpoint()
        await self._coordinator.close()  # a commit under way ends before processors close
        await self._close_all(wait_for_calls=True, report=drained and self._error is None)
        self._finish()

    async def _close_all(self, *, wait_for_calls: bool, report: bool = False) -> None:
        """Close every opened processor, upstream first (close is always called). With
        `report`, a failing close fails the run; otherwise it is only logged."""
        left = [r for r in self._runners.values() if r.opened and not r.closed]
        if wait_for_calls:
            calls = {t for r in left for t in r.inflight}
            if calls:
                _, running = await asyncio.wait(calls, timeout=CLOSE_GRACE_SECONDS)
                if running:
                    log.warning(
                        "run %s: closing with %d calls still running", self.run_id, len(running)
                    )
        for runner in left:
            try:
                await runner.close()
            except Exception as exc:
                if report:
                    runner.counters.failed(describe(exc))
                    self._record_error(runner, f"close: {describe(exc)}")
                else:
                    runner.processor.log.exception("%s: close failed", runner.node.id)

    def _finish(self) -> None:
        self._ended_at = time.monotonic()
        previous = self._lifecycle.state
        final = self._lifecycle.finish(failed=self._error is not None)
        self._coordinator.abort(f"run {self.run_id} ended ({final}) before the checkpoint")
        self._state_changed(previous)
        self._done.set()

    def _request(self, request: Request) -> bool:
        """Move the lifecycle; subscribers hear of the state it shows changing."""
        previous = self._lifecycle.state
        moved = self._lifecycle.request(request)
        self._state_changed(previous)
        return moved

    def _state_changed(self, previous: RunState) -> None:
        state = self._lifecycle.state
        if previous == state:
            return
        self._notify(
            StateChanged(
                run_id=self.run_id,
                state=state,
                previous=previous,
                error=self._error if state == "failed" else None,
                error_node=self._error_node if state == "failed" else None,
            )
        )

    def _notify(self, notice: RunNotice) -> None:
        for listener in list(self._listeners):
            try:
                listener(notice)
            except Exception:
                log.exception("run %s: listener failed on %s", self.run_id, type(notice).__name__)

    # -- observation ---------------------------------------------------------------------
    def offsets(self) -> dict[str, Any]:
        """The latest offset of every source (those given at construction until they move)."""
        return dict(self._offsets)

    def metrics(self) -> FlowMetrics:
        now = time.monotonic()
        started = self._started_at
        elapsed = 0.0 if started is None else (self._ended_at or now) - started
        return FlowMetrics(
            run_id=self.run_id,
            flow_id=self.context.flow_id,
            state=self.state,
            elapsed=elapsed,
            nodes={nid: self._masked(r.counters.snapshot(now)) for nid, r in self._runners.items()},
            edges={eid: edge_metrics(e.queue) for eid, e in self._edges.items()},
        )

    def _masked(self, node: NodeMetrics) -> NodeMetrics:
        # A processor's error text may quote a secret it was given: metrics leave the run.
        if node.last_error is not None:
            node.last_error = self.context.mask(node.last_error)
        return node

    def sample(
        self,
        edge_id: str,
        limit: int = 100,
        where: str | None = None,
        timeout: float | None = None,
    ) -> SampleResult:
        """Up to `limit` of the most recent records that went through the edge, filtered by
        the DuckDB boolean `where` (interrupted after `timeout` seconds). Raises KeyError for
        an unknown edge and ValueError for a bad or too slow condition."""
        edge = self._edges.get(edge_id)
        if edge is None:
            raise KeyError(f"no edge {edge_id!r} in flow {self.flow.id or self.flow.name!r}")
        return edge.sample.query(limit, where, timeout)

    def processor(self, node_id: str) -> Processor:
        """The processor instance of a node (tests and tools inspect it)."""
        return self._runners[node_id].processor
