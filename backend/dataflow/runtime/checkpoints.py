"""Checkpoints: the bookkeeping of one in progress (barriers sent and received, offsets, node
state), the store that commits a complete one, and the state files kept in the data directory.

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
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

#: Under the data directory: checkpoints/<run id>/<checkpoint id>/<node id>.state
CHECKPOINTS_DIR = "checkpoints"
STATE_SUFFIX = ".state"


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
