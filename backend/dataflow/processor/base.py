"""The three kinds of processor (Source, Transform, Sink) and what the engine hands them."""

from __future__ import annotations

import asyncio
import logging
import threading
import typing
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar

import msgspec
import pyarrow as pa

from dataflow.processor.config import ProcessorConfig
from dataflow.processor.reach import Reach
from dataflow.processor.spec import ProcessorSpec

C = TypeVar("C", bound=ProcessorConfig)

#: What a transform or sink emits: port name -> batch (a Table is split into its batches).
Output = Mapping[str, pa.RecordBatch | pa.Table | None]


class SchemaError(Exception):
    """A design-time problem found from the schemas flowing in, tied to a config field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass
class Context:
    """What a running processor may know about where it runs."""

    node_id: str = "node"
    flow_id: str = ""
    run_id: str = ""
    data_dir: Path = field(default_factory=Path.cwd)
    allow_python: bool = False
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("dataflow.node"))
    #: The flow's delivery mode (settings.delivery): exactly-once sinks stage until commit.
    delivery: Literal["at_least_once", "exactly_once"] = "at_least_once"
    #: Set by the engine: counts a problem in the node's metrics (errors, last_error).
    on_problem: Callable[[str], None] | None = None
    #: The files and hosts the server lets flows touch (no limit outside a server).
    reach: Reach = field(default_factory=Reach)
    #: Set by the engine when the node's work is abandoned: a forced stop, the run failing, the
    #: end of an interruption. A thread cannot be killed, so a call that may run long in a
    #: worker thread (a loop over rows, user code) checks it and gives up (raises) once set;
    #: the engine waits for such calls before close().
    cancelled: threading.Event = field(default_factory=threading.Event)

    def problem(self, message: str) -> None:
        """A problem the processor handles itself (a lost server it reconnects to, a request
        it retries): logged, and shown on the node (error count, last error) without failing
        the run."""
        self.logger.warning("%s", message)
        if self.on_problem is not None:
            self.on_problem(message)


class Processor(Generic[C]):
    """Base of all processors. Subclass Source, Transform or Sink with a config type argument."""

    spec: ClassVar[ProcessorSpec]
    config_type: ClassVar[type[ProcessorConfig]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            for arg in typing.get_args(base):
                if isinstance(arg, type) and issubclass(arg, ProcessorConfig):
                    cls.config_type = arg

    def __init__(self, config: C, context: Context | None = None):
        self.config = config
        self.context = context or Context()

    @property
    def log(self) -> logging.Logger:
        return self.context.logger

    # -- declaration -------------------------------------------------------------
    @classmethod
    def parse_config(cls, raw: Mapping[str, Any]) -> C:
        """Decode a node's config; raises msgspec.ValidationError naming the field path."""
        return msgspec.convert(dict(raw), type=cls.config_type)  # type: ignore[return-value]  # config_type is C; a ClassVar cannot say so

    @classmethod
    def input_ports(cls, config: ProcessorConfig) -> tuple[str, ...]:
        return cls.spec.inputs

    @classmethod
    def output_ports(cls, config: ProcessorConfig) -> tuple[str, ...]:
        outs = cls.spec.outputs
        if config.on_error == "route" and "failure" not in outs:
            outs = (*outs, "failure")
        return outs

    def confine(self) -> None:
        """Design-time check of what the node would touch against the server's reach (its
        context's): raise SchemaError naming the field for a path outside the file roots or
        a host not allowed. Called on every node when a flow is validated; the processor
        checks again when it opens the file or URL (`self.context.reach`)."""

    def allowed_path(self, value: str, field: str, *, pattern: bool = False) -> None:
        """For confine(): SchemaError on `field` when `value` (a glob with `pattern`) lies
        outside the file roots."""
        try:
            if pattern:
                self.context.reach.pattern(value)
            else:
                self.context.reach.path(value)
        except PermissionError as exc:
            raise SchemaError(str(exc), field=field) from exc

    def allowed_url(self, value: str, field: str) -> None:
        """For confine(): SchemaError on `field` when the URL's host is not allowed."""
        try:
            self.context.reach.url(value)
        except PermissionError as exc:
            raise SchemaError(str(exc), field=field) from exc

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        """Schemas emitted per output port given the input schemas; None when unknown.

        Raise SchemaError to report a design-time problem (e.g. a missing column).
        """
        return None

    # -- lifecycle ---------------------------------------------------------------
    async def open(self) -> None:
        """Acquire resources (files, connections). Called once before the first batch."""

    async def close(self) -> None:
        """Release resources. Called once, also after failures."""


class Source(Processor[C]):
    """Produces batches. The engine pulls from `batches()` only when the out queue has room,
    so a blocked downstream stops the source from reading."""

    def batches(self) -> AsyncIterator[pa.RecordBatch | tuple[str, pa.RecordBatch]]:
        """Yield batches (to the first output port) or (port, batch) pairs; return at the end
        of a finite input. `offset()` after a yield must cover everything yielded so far."""
        raise NotImplementedError

    def offset(self) -> Any:
        """A JSON-able position to resume from (files done + position, Kafka offsets...)."""
        return None

    def restore(self, offset: Any) -> None:
        """Resume from an offset returned by `offset()` in an earlier run; before `open()`."""

    async def commit(self, offset: Any) -> None:
        """Called when everything up to `offset` was written by the sinks (acknowledge
        upstream: Kafka commit, Redis XACK)."""


class Transform(Processor[C]):
    """Batches in on input ports, batches out on named output ports."""

    #: Whether `transform` may be called on several batches at once (config.concurrency).
    stateless: ClassVar[bool] = True

    def transform(self, batch: pa.RecordBatch) -> Output:
        """Single-input transforms implement this; runs in a worker thread."""
        raise NotImplementedError

    def process(self, port: str, batch: pa.RecordBatch) -> Output:
        """Multi-input transforms override this instead of `transform`."""
        return self.transform(batch)

    async def process_async(self, port: str, batch: pa.RecordBatch) -> Output:
        # Heavy work (Arrow compute, DuckDB) releases the GIL, so a thread uses another core.
        return await asyncio.to_thread(self.process, port, batch)

    def finish(self) -> Output:
        """End of stream: emit whatever the transform still holds (windows, buffers)."""
        return {}

    # -- state (stateful transforms: windows, dedupe keys, join buffers) -----------
    def snapshot_state(self) -> bytes | None:
        """The transform's state at a checkpoint barrier (None: stateless). Called between
        batches, never during one; the engine stores the bytes with the checkpoint."""
        return None

    def restore_state(self, data: bytes) -> None:
        """Restore what `snapshot_state` returned, before the first batch of a restarted run."""

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        # Default: every output port carries the (single) input schema unchanged.
        if len(inputs) != 1:
            return None
        (schema,) = inputs.values()
        return {port: schema for port in self.spec.outputs}


class Sink(Processor[C]):
    """Writes batches; a batch counts as acknowledged when `write` returns."""

    def write(self, batch: pa.RecordBatch) -> Output | None:
        """Write one batch (in a worker thread). May return rejected rows for `failure`."""
        raise NotImplementedError

    async def write_async(self, batch: pa.RecordBatch) -> Output | None:
        return await asyncio.to_thread(self.write, batch)

    def flush(self) -> None:
        """Make everything written so far durable (end of stream, stop, checkpoint)."""

    async def flush_async(self) -> None:
        await asyncio.to_thread(self.flush)

    # -- checkpoints (two-phase commit for exactly-once delivery) -------------------
    #: Whether the sink stages data per checkpoint and publishes it only once the checkpoint
    #: is committed, so that replays after a crash never show twice (delivery exactly_once).
    exactly_once: ClassVar[bool] = False

    @classmethod
    def exactly_once_problem(cls, config: C) -> str | None:
        """Why a node with this config cannot deliver exactly once (None: it can), for sinks
        whose support depends on the config; validation reports it on the node."""
        return None if cls.exactly_once else "this sink cannot deliver exactly once"

    def prepare_checkpoint(self, checkpoint_id: int) -> None:
        """A checkpoint barrier reached the sink: make everything before it durable and ready
        to publish (exactly-once sinks stage it: temporary files, a staging table). Default:
        flush. Phase one: the checkpoint is committed in the journal after every sink did."""
        self.flush()

    def commit_checkpoint(self, checkpoint_id: int) -> None:
        """Phase two: checkpoint `checkpoint_id` is committed in the journal; publish what was
        staged for it and for any earlier one. Must be idempotent (it may be called again
        after a crash)."""

    def recover(self, committed_checkpoint_id: int | None) -> None:
        """Before `open()` of a restarted run: publish what was staged up to the committed
        checkpoint (if not yet published) and discard what was staged after it."""

    async def prepare_checkpoint_async(self, checkpoint_id: int) -> None:
        await asyncio.to_thread(self.prepare_checkpoint, checkpoint_id)

    async def commit_checkpoint_async(self, checkpoint_id: int) -> None:
        await asyncio.to_thread(self.commit_checkpoint, checkpoint_id)

    async def recover_async(self, committed_checkpoint_id: int | None) -> None:
        await asyncio.to_thread(self.recover, committed_checkpoint_id)

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        return {}


def with_error_column(batch: pa.RecordBatch, message: str | pa.Array) -> pa.RecordBatch:
    """The batch plus an `error` column: what a `failure` port carries."""
    if isinstance(message, str):
        message = pa.array([message] * batch.num_rows, pa.string())
    if "error" in batch.schema.names:
        idx = batch.schema.get_field_index("error")
        return batch.set_column(idx, "error", message)
    return batch.append_column("error", message)
