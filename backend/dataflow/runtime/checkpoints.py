"""Checkpoints: the bookkeeping of one in progress (barriers sent and received, offsets, node
state), the coordinator that takes and commits them, the stores that make a complete one
durable (in memory, or state files plus the run's journal stream), and the state files kept
in the data directory.

A checkpoint runs in two phases (Flink's, and Kafka Connect's exactly-once protocol):
1. Every source sends a barrier after its current batch (its offset then is the checkpoint's);
   a node with several inputs aligns them, snapshots its state between two batches and passes
   the barrier on; a sink prepares (`prepare_checkpoint`: everything before the barrier is
   durable, or staged). The checkpoint is complete once every terminal node has the barrier.
2. The store commits it (state files, then ONE journal event); only then do sinks publish
   (`commit_checkpoint`) and sources acknowledge upstream (`commit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dataflow.events.run_events import CheckpointCommitted
from dataflow.events.runs import RunStore
from dataflow.runtime.nodes import NodeFailed, NodeRunner, describe

log = logging.getLogger(__name__)

#: Under the data directory: checkpoints/<run id>/<checkpoint id>/<node id>.state
CHECKPOINTS_DIR = "checkpoints"
STATE_SUFFIX = ".state"
#: Committed checkpoints whose state files are kept (the newest ones).
KEEP_CHECKPOINTS = 2


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint: restarting from it resumes each source at its offset and each
    stateful node with its state, as if the run had never stopped."""

    checkpoint_id: int
    #: Source node id -> offset at its barrier (sources without an offset yet are left out).
    offsets: dict[str, Any] = field(default_factory=dict)
    #: Stateful node id -> what its `snapshot_state()` returned at the barrier.
    state: dict[str, bytes] = field(default_factory=dict)


class CheckpointStore(Protocol):
    """Where a run commits its complete checkpoints (the run manager: state files + journal)."""

    async def commit(self, checkpoint: Checkpoint) -> None:
        """Make `checkpoint` durable: once this returns, a restart resumes from it. Raise to
        refuse it: nothing is published then, and the next checkpoint covers its data."""
        ...


class MemoryCheckpoints:
    """Keeps the last committed checkpoint in memory: for runs outside the server (tests,
    `dataflow run`), where nothing restarts."""

    def __init__(self) -> None:
        self.last: Checkpoint | None = None

    async def commit(self, checkpoint: Checkpoint) -> None:
        self.last = checkpoint


class JournalCheckpoints:
    """A run's checkpoint store in the server: state files first (fsync'd), then one
    CheckpointCommitted event in the run's stream; older state directories are then removed
    (the last KEEP_CHECKPOINTS stay)."""

    def __init__(self, runs: RunStore, run_id: str, data_dir: Path):
        self.runs = runs
        self.run_id = run_id
        self.data_dir = data_dir
        last = runs.run(run_id).checkpoint_id  # a recovered run's: its files stay
        self._kept: list[int] = [] if last is None else [last]

    async def commit(self, checkpoint: Checkpoint) -> None:
        paths = await asyncio.to_thread(
            write_state, self.data_dir, self.run_id, checkpoint.checkpoint_id, checkpoint.state
        )
        await self.runs.append(
            self.run_id,
            CheckpointCommitted(
                checkpoint_id=checkpoint.checkpoint_id, offsets=checkpoint.offsets, state=paths
            ),
        )
        self._kept = [*self._kept, checkpoint.checkpoint_id][-KEEP_CHECKPOINTS:]
        try:
            await asyncio.to_thread(collect_garbage, self.data_dir, self.run_id, self._kept)
        except OSError:
            log.exception("run %s: cannot remove old checkpoint state", self.run_id)


class PendingCheckpoint:
    def __init__(self, checkpoint_id: int, sources: Iterable[str], terminals: Iterable[str]):
        self.checkpoint_id = checkpoint_id
        self.waiting_sources = set(sources)
        self.waiting_terminals = set(terminals)
        self.offsets: dict[str, Any] = {}
        self.state: dict[str, bytes] = {}
        self.done: asyncio.Future[Checkpoint] = asyncio.get_running_loop().create_future()

    @property
    def complete(self) -> bool:
        return not self.waiting_sources and not self.waiting_terminals

    def result(self) -> Checkpoint:
        offsets = {k: v for k, v in self.offsets.items() if v is not None}
        return Checkpoint(self.checkpoint_id, offsets, dict(self.state))


class CheckpointTracker:
    """A checkpoint completes when every source sent its barrier and every terminal node
    (one without outgoing edges) received it on all inputs, or finished. Ids go up from
    `last_id` (the restored checkpoint's), also across restarts of a run."""

    def __init__(self, sources: Iterable[str], terminals: Iterable[str], last_id: int = 0):
        self._sources = frozenset(sources)
        self._terminals = frozenset(terminals)
        self._finished: set[str] = set()
        self._final_offsets: dict[str, Any] = {}
        self._pending: dict[int, PendingCheckpoint] = {}
        self._last_id = last_id

    @property
    def last_id(self) -> int:
        return self._last_id

    def next_id(self) -> int:
        return self._last_id + 1

    def begin(self, checkpoint_id: int) -> PendingCheckpoint:
        if checkpoint_id in self._pending:
            raise ValueError(f"checkpoint {checkpoint_id} is already in progress")
        if checkpoint_id <= self._last_id:
            raise ValueError(f"checkpoint ids go up: {checkpoint_id} after {self._last_id}")
        self._last_id = checkpoint_id
        pending = PendingCheckpoint(
            checkpoint_id, self._sources - self._finished, self._terminals - self._finished
        )
        pending.offsets.update(self._final_offsets)
        self._pending[checkpoint_id] = pending
        return pending

    def source_sent(self, checkpoint_id: int, node_id: str, offset: Any) -> None:
        pending = self._pending.get(checkpoint_id)
        if pending is not None:
            pending.offsets[node_id] = offset
            pending.waiting_sources.discard(node_id)

    def state_taken(self, checkpoint_id: int, node_id: str, data: bytes | None) -> None:
        pending = self._pending.get(checkpoint_id)
        if pending is not None and data is not None:
            pending.state[node_id] = data

    def terminal_reached(self, checkpoint_id: int, node_id: str) -> None:
        pending = self._pending.get(checkpoint_id)
        if pending is not None:
            pending.waiting_terminals.discard(node_id)

    def node_finished(self, node_id: str, offset: Any = None) -> None:
        """A node whose input ended passed everything on: it counts as having sent/received
        every pending barrier. (A finished node has no state left: finish() emitted it.)"""
        self._finished.add(node_id)
        if node_id in self._sources:
            self._final_offsets[node_id] = offset
        for pending in self._pending.values():
            if node_id in pending.waiting_sources:
                pending.offsets[node_id] = offset
            pending.waiting_sources.discard(node_id)
            pending.waiting_terminals.discard(node_id)

    def pop_complete(self) -> list[PendingCheckpoint]:
        done = [p for p in self._pending.values() if p.complete]
        for pending in done:
            del self._pending[pending.checkpoint_id]
        return sorted(done, key=lambda p: p.checkpoint_id)

    def abort(self, reason: str) -> None:
        for pending in self._pending.values():
            if not pending.done.done():
                pending.done.set_exception(RuntimeError(reason))
        self._pending.clear()


class CheckpointCoordinator:
    """Takes one run's checkpoints and commits each complete one (phase two): sinks that
    have not prepared it prepare, the store commits, sinks commit (publish), then sources
    commit (acknowledge upstream). Commits go one at a time in id order, and none once the
    run is closing its processors. A checkpoint the store refused is committed before the
    next one begins (a sink may wait for its commit before writing on: kafka_publish's
    transaction).

    `completed(checkpoint)` is called when a checkpoint is complete (before its commit);
    `fail(runner, message)` when a sink's prepare, or its commit at the last checkpoint,
    fails the run.
    """

    def __init__(
        self,
        run_id: str,
        tracker: CheckpointTracker,
        runners: Mapping[str, NodeRunner],
        store: CheckpointStore,
        *,
        committed_id: int,
        completed: Callable[[Checkpoint], None],
        fail: Callable[[NodeRunner, str], None],
    ):
        self.run_id = run_id
        self.tracker = tracker
        self.runners = runners
        self.store = store
        self._completed = completed
        self._fail = fail
        self._committed_id = committed_id
        self._refused: Checkpoint | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def committed_id(self) -> int:
        """The last checkpoint committed (0: none yet)."""
        return self._committed_id

    # -- what the nodes report -----------------------------------------------------------
    def barrier_sent(self, node_id: str, checkpoint_id: int, offset: Any) -> None:
        self.tracker.source_sent(checkpoint_id, node_id, offset)
        self._complete()

    def barrier_reached(self, node_id: str, checkpoint_id: int) -> None:
        self.tracker.terminal_reached(checkpoint_id, node_id)
        self._complete()

    def state_taken(self, node_id: str, checkpoint_id: int, data: bytes | None) -> None:
        self.tracker.state_taken(checkpoint_id, node_id, data)

    def node_finished(self, node_id: str, offset: Any) -> None:
        self.tracker.node_finished(node_id, offset)
        self._complete()

    # -- taking checkpoints --------------------------------------------------------------
    async def checkpoint(self, checkpoint_id: int | None = None) -> Checkpoint:
        """Begin a checkpoint, wait until it is complete, commit it and return it. Once
        complete it is committed even if the caller goes away."""
        if self._refused is not None:
            await asyncio.shield(self._commit_soon(self._refused))
        pending = self.begin(checkpoint_id)
        completed = await pending.done
        return await asyncio.shield(self._commit_soon(completed))

    async def last(self, timeout: float | None, barriers_out: Callable[[], None]) -> Checkpoint:
        """The checkpoint an interruption leaves behind: like checkpoint(), but each wait is
        bounded (TimeoutError), and `barriers_out()` is called once the barriers are asked
        for (the run lets queued data through and stops the sources reading)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        if self._refused is not None:
            await asyncio.wait_for(asyncio.shield(self._commit_soon(self._refused)), timeout)
        pending = self.begin(None)
        barriers_out()
        completed = await asyncio.wait_for(asyncio.shield(pending.done), timeout)
        left = None if deadline is None else max(0.0, deadline - loop.time())
        return await asyncio.wait_for(asyncio.shield(self._commit_soon(completed)), left)

    async def final(self) -> Checkpoint:
        """Every node ended with its input (end of the data, or a graceful stop): the last
        checkpoint covers everything, so sinks publish it all and sources acknowledge their
        final offsets. A sink that cannot publish it fails the run (nothing later would)."""
        pending = self.begin(None)
        completed = await pending.done
        return await self._commit_soon(completed, final=True)

    def begin(self, checkpoint_id: int | None = None) -> PendingCheckpoint:
        """Ask every source still running for a barrier (at once if it waits for input)."""
        pending = self.tracker.begin(checkpoint_id or self.tracker.next_id())
        for runner in self.runners.values():
            if runner.kind == "source" and runner.node.id in pending.waiting_sources:
                runner.pending_barriers.append(pending.checkpoint_id)
                runner.send_barriers_now()
                runner.wake.set()
        self._complete()
        return pending

    async def close(self) -> None:
        """No commit from now on (the processors close); one under way ends first."""
        async with self._lock:
            self._closed = True

    def abort(self, reason: str) -> None:
        """Checkpoints still in progress fail with `reason` (the run ended)."""
        self.tracker.abort(reason)

    # -- committing ----------------------------------------------------------------------
    def _complete(self) -> None:
        for pending in self.tracker.pop_complete():
            checkpoint = pending.result()
            if not pending.done.done():
                pending.done.set_result(checkpoint)
            self._completed(checkpoint)

    def _commit_soon(self, checkpoint: Checkpoint, final: bool = False) -> asyncio.Task[Checkpoint]:
        task = asyncio.ensure_future(self._commit(checkpoint, final))
        # Retrieved: a caller that went away must not leave "exception never retrieved".
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return task

    async def _commit(self, checkpoint: Checkpoint, final: bool) -> Checkpoint:
        cid = checkpoint.checkpoint_id
        async with self._lock:
            if self._closed:
                raise RuntimeError(f"run {self.run_id} ended before checkpoint {cid} was committed")
            if cid <= self._committed_id:
                return checkpoint  # a later checkpoint, committed already, covers it
            sinks = [r for r in self.runners.values() if r.kind == "sink"]
            for runner in sinks:
                # A sink whose input ended before this checkpoint's barrier could reach it
                # prepares what it wrote since its last one now (its loop is over).
                if runner.prepared < cid:
                    if not runner.finished:
                        raise RuntimeError(f"sink '{runner.node.id}' did not prepare {cid}")
                    try:
                        await runner.prepare(cid)
                    except NodeFailed as exc:
                        self._fail(runner, exc.message)
                        raise RuntimeError(exc.message) from exc
            try:
                await self.store.commit(checkpoint)
            except BaseException:
                self._refused = checkpoint
                raise
            self._committed_id = cid
            self._refused = None
            failures = await asyncio.gather(
                *(runner.commit(cid) for runner in sinks), return_exceptions=True
            )
            for runner, failure in zip(sinks, failures, strict=True):
                if isinstance(failure, BaseException):
                    self._publish_failed(runner, cid, failure, final)
            for node_id, offset in checkpoint.offsets.items():
                source = self.runners.get(node_id)
                if source is None or source.kind != "source":
                    continue
                try:
                    await source.source.commit(offset)
                except Exception:
                    # The next checkpoint acknowledges a later offset, which covers this one.
                    source.processor.log.exception(
                        "%s: could not acknowledge checkpoint %d upstream", node_id, cid
                    )
        return checkpoint

    def _publish_failed(
        self, runner: NodeRunner, cid: int, failure: BaseException, final: bool
    ) -> None:
        message = runner.error_text(f"commit checkpoint {cid}: {describe(failure)}")
        runner.counters.failed(describe(failure))
        if final:
            # No later checkpoint will publish it: the run fails; what was staged stays
            # staged, and recover() of a restart publishes it.
            self._fail(runner, message)
        else:
            runner.processor.log.warning("%s; the next checkpoint publishes it", message)


# -- state files -----------------------------------------------------------------------------
def run_state_dir(data_dir: Path, run_id: str) -> Path:
    return data_dir / CHECKPOINTS_DIR / run_id


def write_state(
    data_dir: Path, run_id: str, checkpoint_id: int, state: Mapping[str, bytes]
) -> dict[str, str]:
    """Write each node's state to DATA_DIR/checkpoints/<run>/<checkpoint>/<node>.state, durably
    (files and directory entries fsync'd); returns node id -> path relative to `data_dir`.
    Call it before journaling the checkpoint: the event must never name a missing file."""
    if not state:
        return {}
    directory = run_state_dir(data_dir, run_id) / str(checkpoint_id)
    if directory.exists():  # left by an instance that crashed before journaling this id
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    paths: dict[str, str] = {}
    for node_id, data in state.items():
        path = directory / f"{node_id}{STATE_SUFFIX}"
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        paths[node_id] = path.relative_to(data_dir).as_posix()
    for d in (directory, directory.parent, directory.parent.parent):
        _fsync_dir(d)
    return paths


def read_state(data_dir: Path, paths: Mapping[str, str]) -> dict[str, bytes]:
    """The state bytes a committed checkpoint references (node id -> relative path)."""
    root = data_dir.resolve()
    state: dict[str, bytes] = {}
    for node_id, relative in paths.items():
        path = (data_dir / relative).resolve()
        if not path.is_relative_to(root):
            raise ValueError(f"state of node '{node_id}': {relative} is outside the data directory")
        try:
            state[node_id] = path.read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"state of node '{node_id}' is missing: {path} (the checkpoint references it)"
            ) from None
    return state


def collect_garbage(data_dir: Path, run_id: str, keep: Iterable[int]) -> None:
    """Remove the run's checkpoint directories except those of `keep` (the last committed)."""
    keep_names = {str(k) for k in keep}
    directory = run_state_dir(data_dir, run_id)
    with contextlib.suppress(FileNotFoundError):
        for child in directory.iterdir():
            if child.name not in keep_names:
                shutil.rmtree(child, ignore_errors=True)


def remove_run_state(data_dir: Path, run_id: str) -> None:
    """A run that ended for good (completed, stopped, failed) is never restarted."""
    shutil.rmtree(run_state_dir(data_dir, run_id), ignore_errors=True)


def remove_state_except(data_dir: Path, run_ids: Iterable[str]) -> None:
    """Remove every run's state directory except those of `run_ids` (runs still active)."""
    keep = set(run_ids)
    with contextlib.suppress(FileNotFoundError):
        for child in (data_dir / CHECKPOINTS_DIR).iterdir():
            if child.name not in keep:
                shutil.rmtree(child, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
