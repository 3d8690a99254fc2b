"""Processors and a checkpoint store that record what the engine asks of them, in order."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import pyarrow as pa

from dataflow.processor import ProcessorSpec, Sink, Transform, TransformConfig, ui
from dataflow.processor.base import Context
from dataflow.runtime import Checkpoint
from dataflow.testing import ListSinkConfig, ListSource, ListSourceConfig, registry_with
from dataflow_processors.aggregate import Aggregate


@dataclass
class Store:
    """What a two-phase sink keeps durably (it survives the sink instance: a restart sees
    it), and every call the engine made, shared by the processors of one test."""

    staged: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    published: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, *call: Any) -> None:
        with self.lock:
            self.calls.append(call)

    def names(self, *only: str) -> list[tuple[Any, ...]]:
        """The calls, without writes and without offsets (or only those named)."""
        return [c for c in self.calls if (c[0] in only if only else c[0] != "write")]


#: Store name (a node's `store` config) -> Store. Cleared around each test (conftest).
STORES: dict[str, Store] = {}


def store(name: str = "default") -> Store:
    return STORES.setdefault(name, Store())


class TwoPhaseSinkConfig(ListSinkConfig, kw_only=True):
    store: Annotated[str, ui("Store", "Name of the shared durable store.")] = "default"
    fail_commit: Annotated[bool, ui("Fail commit", "commit_checkpoint raises.")] = False
    fail_write: Annotated[bool, ui("Fail write", "write raises.")] = False
    one_epoch: Annotated[
        bool,
        ui("One epoch", "After a prepare, writes wait for the commit (as a Kafka transaction)."),
    ] = False


class TwoPhaseSink(Sink[TwoPhaseSinkConfig]):
    """An exactly-once sink in memory: rows written since the last prepare are lost by a
    crash; prepare(n) stages them as checkpoint n; commit(n) publishes what is staged up
    to n; recover(n) publishes up to n and discards the rest."""

    spec = ProcessorSpec(name="two_phase_sink", category="sink", summary="t", inputs=("in",))
    exactly_once = True

    def __init__(self, config: TwoPhaseSinkConfig, context: Context | None = None):
        super().__init__(config, context)
        self.store = store(config.store)
        self.pending: list[dict[str, Any]] = []
        self.rec = lambda *call: self.store.record(*call, self.context.node_id)
        self.epoch_open = threading.Event()
        self.epoch_open.set()

    async def open(self) -> None:
        self.rec("open")

    async def close(self) -> None:
        self.rec("close")

    def write(self, batch: pa.RecordBatch) -> None:
        if self.config.delay_seconds:
            time.sleep(self.config.delay_seconds)
        if self.config.fail_write:
            raise OSError("disk full")
        self.epoch_open.wait(30)
        self.pending.extend(batch.to_pylist())
        self.rec("write")

    def flush(self) -> None:  # never called directly by the engine: prepare is
        self.rec("flush")

    def prepare_checkpoint(self, checkpoint_id: int) -> None:
        with self.store.lock:
            self.store.staged.setdefault(checkpoint_id, []).extend(self.pending)
        self.pending = []
        self.rec("prepare", checkpoint_id)
        if self.config.one_epoch:
            self.epoch_open.clear()

    def commit_checkpoint(self, checkpoint_id: int) -> None:
        self.rec("commit", checkpoint_id)
        if self.config.fail_commit:
            raise OSError("the target is down")
        self._publish_up_to(checkpoint_id)
        self.epoch_open.set()

    def recover(self, committed_checkpoint_id: int | None) -> None:
        self.rec("recover", committed_checkpoint_id)
        if committed_checkpoint_id is not None:
            self._publish_up_to(committed_checkpoint_id)
        with self.store.lock:
            self.store.staged.clear()

    def _publish_up_to(self, checkpoint_id: int) -> None:
        with self.store.lock:
            for cid in sorted(c for c in self.store.staged if c <= checkpoint_id):
                self.store.published.extend(self.store.staged.pop(cid))

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.store.published)


class AckSourceConfig(ListSourceConfig, kw_only=True):
    store: Annotated[str, ui("Store", "Name of the shared store recording calls.")] = "default"


class AckSource(ListSource):
    """A list source that records its acknowledgements (commit) and its opening/closing."""

    spec = ProcessorSpec(name="ack_source", category="source", summary="t", outputs=("out",))

    async def open(self) -> None:
        store(self.config.store).record("source open", self.context.node_id)  # type: ignore[attr-defined]

    async def close(self) -> None:
        store(self.config.store).record("source close", self.context.node_id)  # type: ignore[attr-defined]

    async def commit(self, offset: Any) -> None:
        store(self.config.store).record("ack", offset, self.context.node_id)  # type: ignore[attr-defined]


AckSource.config_type = AckSourceConfig  # __init_subclass__ would take ListSource's


class Recorder(Transform[TransformConfig]):
    """Passes batches from `left` and `right` on; its state is every value seen per port."""

    spec = ProcessorSpec(
        name="recorder",
        category="transform",
        summary="t",
        inputs=("left", "right"),
        outputs=("out",),
    )
    stateless = False

    def __init__(self, config: TransformConfig, context: Context | None = None):
        super().__init__(config, context)
        self.seen: dict[str, list[Any]] = {"left": [], "right": []}

    def process(self, port: str, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch]:
        self.seen[port].extend(batch.column(0).to_pylist())
        return {"out": batch}

    def snapshot_state(self) -> bytes:
        return json.dumps(self.seen).encode()

    def restore_state(self, data: bytes) -> None:
        self.seen = json.loads(data)


class SleepyConfig(TransformConfig, kw_only=True):
    delay_seconds: float = 0.0


class Sleepy(Transform[SleepyConfig]):
    """Passes batches on after `delay_seconds`: a slow stage, so its input queue fills."""

    spec = ProcessorSpec(
        name="sleepy", category="transform", summary="t", inputs=("in",), outputs=("out",)
    )

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch]:
        time.sleep(self.config.delay_seconds)
        return {"out": batch}


class Count(Transform[TransformConfig]):
    """Counts records and emits the count only at the end of the stream; the count is its
    state."""

    spec = ProcessorSpec(
        name="count", category="transform", summary="t", inputs=("in",), outputs=("out",)
    )
    stateless = False

    def __init__(self, config: TransformConfig, context: Context | None = None):
        super().__init__(config, context)
        self.total = 0
        self.finished = False

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch | None]:
        self.total += batch.num_rows
        return {"out": None}

    def finish(self) -> dict[str, pa.RecordBatch]:
        self.finished = True
        return {"out": pa.record_batch({"count": [self.total]})}

    def snapshot_state(self) -> bytes:
        return str(self.total).encode()

    def restore_state(self, data: bytes) -> None:
        self.total = int(data)


class RecordingCheckpoints:
    """A checkpoint store that records its commits in a Store's call list; `fail` refuses."""

    def __init__(self, name: str = "default"):
        self.store = store(name)
        self.committed: list[Checkpoint] = []
        self.fail = False

    @property
    def last(self) -> Checkpoint | None:
        return self.committed[-1] if self.committed else None

    async def commit(self, checkpoint: Checkpoint) -> None:
        if self.fail:
            self.store.record("store refused", checkpoint.checkpoint_id)
            raise OSError("the journal is unreachable")
        self.committed.append(checkpoint)
        self.store.record("store", checkpoint.checkpoint_id)


REGISTRY = registry_with(TwoPhaseSink, AckSource, Recorder, Sleepy, Count, Aggregate)
