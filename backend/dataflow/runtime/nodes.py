"""The per-node loops: pull a source, feed a transform or sink, apply its error policy, and
play each node's part in a checkpoint (send, align, snapshot, prepare)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, Literal, Protocol

import pyarrow as pa

from dataflow.model import Edge, Node
from dataflow.processor.base import (
    Output,
    Processor,
    Sink,
    Source,
    Transform,
    with_error_column,
)
from dataflow.runtime.markers import END_OF_STREAM, Barrier, BarrierAligner, EndOfStream, Marker
from dataflow.runtime.metrics import NodeCounters
from dataflow.runtime.queues import EdgeQueue, Inbox
from dataflow.runtime.sample import SampleRing

Kind = Literal["source", "transform", "sink"]


class NodeFailed(Exception):
    """A node's error that ends the run; `message` names the node."""

    def __init__(self, node_id: str, message: str):
        super().__init__(message)
        self.node_id = node_id
        self.message = message


class RunControl(Protocol):
    """What a node loop needs from the run it belongs to."""

    flowing: asyncio.Event  # cleared while paused

    @property
    def stopping(self) -> bool: ...

    @property
    def forced(self) -> bool: ...

    @property
    def interrupting(self) -> bool: ...

    def offset_of(self, node_id: str) -> Any: ...

    def offset_changed(self, node_id: str, offset: Any) -> None: ...

    def barrier_sent(self, node_id: str, checkpoint_id: int) -> None: ...

    def barrier_reached(self, node_id: str, checkpoint_id: int) -> None: ...

    def state_taken(self, node_id: str, checkpoint_id: int, data: bytes | None) -> None: ...


class EdgeRuntime:
    """An edge while running: its queue and its data-preview ring."""

    def __init__(self, edge: Edge, sample_size: int):
        self.edge = edge
        self.queue = EdgeQueue(edge.id, edge.settings.max_batches, edge.settings.max_bytes)
        self.sample = SampleRing(sample_size)


def describe(exc: BaseException) -> str:
    text = str(exc)
    # A bare KeyError('x') reads as "'x'": say what kind of error it was.
    if not text or isinstance(exc, LookupError):
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text


class NodeRunner:
    """Runs one node as one asyncio task."""

    def __init__(
        self,
        node: Node,
        processor: Processor,
        inputs: list[tuple[str, EdgeRuntime]],
        outputs: dict[str, list[EdgeRuntime]],
        control: RunControl,
    ):
        self.node = node
        self.processor = processor
        self.kind: Kind = (
            "source"
            if isinstance(processor, Source)
            else "sink"
            if isinstance(processor, Sink)
            else "transform"
        )
        self.inputs = inputs
        self.outputs = outputs
        self.control = control
        cls = type(processor)
        #: A transform whose state goes into checkpoints: fed one batch at a time, so that
        #: snapshot_state() comes between two batches.
        self.stateful = isinstance(processor, Transform) and (
            not processor.stateless
            or type(processor).snapshot_state is not Transform.snapshot_state
        )
        self.counters = NodeCounters(node.type, cls.input_ports(processor.config), tuple(outputs))
        self.inbox = Inbox([(port, e.queue) for port, e in inputs], control.flowing)
        self.task: asyncio.Task[None] | None = None
        #: Processor calls still running (in worker threads) even if this task was cancelled:
        #: close() waits for them.
        self.inflight: set[asyncio.Task[Any]] = set()
        self.opened = False
        self.closed = False
        #: The loop ended with its input (end of stream on every input, or a source's end).
        self.finished = False
        #: Sinks: the last checkpoint prepared; checkpoint calls of one sink never overlap.
        self.prepared = 0
        self.checkpoint_calls = asyncio.Lock()
        # Sources only: barriers to send after the current batch, and a wake-up for
        # pause/resume/stop/barriers.
        self.pending_barriers: list[int] = []
        self.wake = asyncio.Event()
        self.pulling = False

    @property
    def terminal(self) -> bool:
        return not any(self.outputs.values())

    def error_text(self, message: str) -> str:
        return f"{self.node.type} in node '{self.node.id}': {message}"

    # -- processor calls -----------------------------------------------------------------
    async def _timed(self, call: Awaitable[Any]) -> Any:
        started = time.perf_counter()
        try:
            return await self._shielded(call)
        finally:
            self.counters.busy_seconds += time.perf_counter() - started

    def _shielded(self, call: Awaitable[Any]) -> Awaitable[Any]:
        # A thread cannot be cancelled: when this node's task is, the call runs on, and
        # close() must not pull resources from under it. Track it until it really ends.
        task = asyncio.ensure_future(call)
        self.inflight.add(task)
        task.add_done_callback(self._call_done)
        return asyncio.shield(task)

    def _call_done(self, task: asyncio.Task[Any]) -> None:
        self.inflight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an abandoned call's error was already reported

    async def open(self) -> None:
        self.opened = True
        await self._timed(self.processor.open())

    async def close(self) -> None:
        self.closed = True
        await self._timed(self.processor.close())

    # The processor as the kind it was found to be in __init__.
    @property
    def source(self) -> Source[Any]:
        assert isinstance(self.processor, Source), self.node.id
        return self.processor

    @property
    def transform(self) -> Transform[Any]:
        assert isinstance(self.processor, Transform), self.node.id
        return self.processor

    @property
    def sink(self) -> Sink[Any]:
        assert isinstance(self.processor, Sink), self.node.id
        return self.processor

    def _invoke(self, port: str, batch: pa.RecordBatch) -> Awaitable[Output | None]:
        if self.kind == "sink":
            return self.sink.write_async(batch)
        return self.transform.process_async(port, batch)

    async def call(self, port: str, batch: pa.RecordBatch) -> Output | None:
        """Process one batch under the node's error policy."""
        config = self.processor.config
        attempt = 0
        while True:
            try:
                return await self._timed(self._invoke(port, batch))
            except Exception as exc:  # CancelledError is not an Exception: it passes
                message = describe(exc)
                self.counters.failed(message)
                policy = config.on_error
                if policy == "retry" and attempt < config.max_retries:
                    delay = config.retry_backoff_seconds * 2**attempt
                    attempt += 1
                    self.counters.retries += 1
                    self.processor.log.warning(
                        "%s; retry %d/%d in %.2fs",
                        self.error_text(message),
                        attempt,
                        config.max_retries,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    continue
                if policy == "drop":
                    self.processor.log.warning(
                        "%s; dropped %d records", self.error_text(message), batch.num_rows
                    )
                    return None
                if policy == "route":
                    return {"failure": with_error_column(batch, message)}
                if attempt:
                    message = f"{message} (after {attempt} retries)"
                raise NodeFailed(self.node.id, self.error_text(message)) from exc

    # -- output --------------------------------------------------------------------------
    async def emit(self, out: Output | None) -> None:
        """Send a processor's output downstream; a full queue blocks here (backpressure)."""
        if not out:
            return
        for port, data in out.items():
            if data is None:
                continue
            edges = self.outputs.get(port)
            if edges is None:
                raise NodeFailed(
                    self.node.id,
                    self.error_text(
                        f"emitted on unknown port {port!r} (ports: {', '.join(self.outputs)})"
                    ),
                )
            if isinstance(data, pa.RecordBatch):
                batches: list[pa.RecordBatch] = [data]
            elif isinstance(data, pa.Table):
                batches = data.to_batches()
            else:
                raise NodeFailed(
                    self.node.id,
                    self.error_text(
                        f"emitted {type(data).__name__} on port {port!r}, expected a "
                        "pyarrow RecordBatch or Table"
                    ),
                )
            for batch in batches:
                rows = batch.num_rows
                if not rows:
                    continue
                nbytes = batch.nbytes
                self.counters.emitted(port, rows, nbytes)
                if not edges:
                    self.counters.discarded_records += rows
                    continue
                for edge in edges:  # fan-out: the same immutable batch on every edge
                    edge.sample.add(batch)
                    await edge.queue.put(batch, nbytes)

    def forward(self, marker: Marker) -> None:
        for edges in self.outputs.values():
            for edge in edges:
                edge.queue.put_marker(marker)

    # -- loops ---------------------------------------------------------------------------
    async def run(self) -> None:
        """The node's loop; it ends with its input (the run closes processors at its end:
        sources still acknowledge and sinks still publish the last checkpoint)."""
        self.counters.state = "running"
        if self.kind == "source":
            await self._run_source()
        else:
            await self._run_consumer()
        self.forward(END_OF_STREAM)
        self.finished = True
        self.counters.state = "finished"

    async def _run_source(self) -> None:
        source = self.source
        control = self.control
        config = source.config
        default_port = next(iter(self.outputs), "out")
        batches = None
        failures = 0
        try:
            while True:
                if self.pending_barriers:
                    self._send_barriers()
                if control.stopping or control.interrupting:
                    break
                if not control.flowing.is_set():
                    self.wake.clear()
                    if not (
                        control.flowing.is_set()
                        or control.stopping
                        or control.interrupting
                        or self.pending_barriers
                    ):
                        await self.wake.wait()
                    continue
                if batches is None:
                    batches = aiter(source.batches())
                started = time.perf_counter()
                # While pulling (waiting inside batches()), the run sends this source's
                # barriers itself (see send_barriers_now) and a stop cancels the wait.
                self.pulling = True
                try:
                    item = await anext(batches)
                except StopAsyncIteration:
                    break
                except asyncio.CancelledError:
                    if (control.stopping or control.interrupting) and not control.forced:
                        # What it was reading is read again on restart: the offset did not
                        # move.
                        task = asyncio.current_task()
                        if task is not None:  # always: node runners are tasks
                            task.uncancel()
                        break
                    raise
                except Exception as exc:
                    message = describe(exc)
                    self.counters.failed(message)
                    if config.on_error != "retry" or failures >= config.max_retries:
                        if failures:
                            message = f"{message} (after {failures} retries)"
                        raise NodeFailed(self.node.id, self.error_text(message)) from exc
                    # The generator is dead after raising: start again from the last offset.
                    delay = config.retry_backoff_seconds * 2**failures
                    failures += 1
                    self.counters.retries += 1
                    source.log.warning(
                        "%s; reopening the source (retry %d/%d) in %.2fs",
                        self.error_text(message),
                        failures,
                        config.max_retries,
                        delay,
                    )
                    await self._aclose(batches)
                    batches = None
                    await asyncio.sleep(delay)
                    offset = control.offset_of(self.node.id)
                    if offset is not None:
                        source.restore(offset)
                    continue
                finally:
                    self.pulling = False
                    self.counters.busy_seconds += time.perf_counter() - started
                failures = 0
                offset = source.offset()
                if isinstance(item, tuple):
                    port, data = item
                else:
                    port, data = default_port, item
                await self.emit({port: data})
                control.offset_changed(self.node.id, offset)
        finally:
            if batches is not None:
                await self._aclose(batches)
        self._send_barriers()
        if control.interrupting:
            # No end of stream: downstream must not finish() (that would emit open windows
            # the restarted run emits again). The run cancels this node once the last
            # checkpoint is committed.
            await asyncio.Future()

    def send_barriers_now(self) -> None:
        """Send requested barriers at once if the source is waiting inside batches() (an
        idle stream must not hold a checkpoint up). Safe: everything it emitted is recorded
        with its offset, and what it is reading comes after the barrier."""
        if self.pulling:
            self._send_barriers()

    def _send_barriers(self) -> None:
        pending, self.pending_barriers = self.pending_barriers, []
        for checkpoint_id in pending:
            self.control.barrier_sent(self.node.id, checkpoint_id)
            self.forward(Barrier(checkpoint_id))
            if self.terminal:
                self.control.barrier_reached(self.node.id, checkpoint_id)

    async def _run_consumer(self) -> None:
        aligner = BarrierAligner(edge.edge.id for _, edge in self.inputs)
        concurrency = getattr(self.processor.config, "concurrency", 1)
        if self.kind == "transform" and not self.stateful and concurrency > 1:
            await self._consume_concurrently(aligner, concurrency)
        else:
            inbox = self.inbox
            while not aligner.ended:
                port, queue, item, nbytes = await inbox.get()
                if isinstance(item, pa.RecordBatch):
                    self.counters.received(port, item.num_rows, nbytes)
                    await self.emit(await self.call(port, item))
                else:
                    await self._marker(queue.edge_id, item, aligner)
        await self._finish()

    async def _consume_concurrently(self, aligner: BarrierAligner, concurrency: int) -> None:
        """Up to `concurrency` batches in processor calls at once; output in input order."""
        slots = asyncio.Semaphore(concurrency)
        # Entries: (None, task of a batch) or (edge id, marker); bounded by the slots.
        ordered: asyncio.Queue[tuple[str | None, Any]] = asyncio.Queue()

        async def read() -> None:
            open_inputs = len(self.inputs)
            while open_inputs:
                await slots.acquire()
                port, queue, item, nbytes = await self.inbox.get()
                if isinstance(item, pa.RecordBatch):
                    self.counters.received(port, item.num_rows, nbytes)
                    ordered.put_nowait((None, asyncio.create_task(self.call(port, item))))
                else:
                    ordered.put_nowait((queue.edge_id, item))
                    if isinstance(item, EndOfStream):
                        open_inputs -= 1

        reader = asyncio.create_task(read())
        try:
            while not aligner.ended:
                edge_id, entry = await ordered.get()
                if edge_id is None:
                    await self.emit(await entry)
                else:
                    await self._marker(edge_id, entry, aligner)
                slots.release()
        finally:
            reader.cancel()
            while not ordered.empty():
                edge_id, entry = ordered.get_nowait()
                if edge_id is not None:
                    continue
                if entry.done():
                    if not entry.cancelled():
                        entry.exception()  # the run is failing already: only the first counts
                else:
                    entry.cancel()

    async def _marker(self, edge_id: str, marker: Marker, aligner: BarrierAligner) -> None:
        if isinstance(marker, Barrier):
            aligned = aligner.barrier(edge_id, marker.checkpoint_id)
        else:
            aligned = aligner.end_of_stream(edge_id)
        for checkpoint_id in aligned:
            # Between two batches: everything before the barrier was processed, nothing after.
            if self.kind == "sink":
                await self.prepare(checkpoint_id)
            elif self.stateful:
                await self._snapshot(checkpoint_id)
            self.forward(Barrier(checkpoint_id))
            if self.terminal:
                self.control.barrier_reached(self.node.id, checkpoint_id)

    async def _snapshot(self, checkpoint_id: int) -> None:
        try:
            data = await self._timed(asyncio.to_thread(self.transform.snapshot_state))
            if data is not None and not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(f"snapshot_state() returned {type(data).__name__}, not bytes")
        except Exception as exc:
            self.counters.failed(describe(exc))
            raise NodeFailed(
                self.node.id, self.error_text(f"snapshot state: {describe(exc)}")
            ) from exc
        self.control.state_taken(self.node.id, checkpoint_id, None if data is None else bytes(data))

    async def prepare(self, checkpoint_id: int) -> None:
        """Sinks, phase one: everything before the barrier is durable (or staged)."""
        async with self.checkpoint_calls:
            if self.prepared >= checkpoint_id:
                return
            try:
                await self._timed(self.sink.prepare_checkpoint_async(checkpoint_id))
            except Exception as exc:
                self.counters.failed(describe(exc))
                raise NodeFailed(
                    self.node.id,
                    self.error_text(f"prepare checkpoint {checkpoint_id}: {describe(exc)}"),
                ) from exc
            self.prepared = checkpoint_id

    async def commit(self, checkpoint_id: int) -> None:
        """Sinks, phase two (the checkpoint is in the journal): publish. Raises as is."""
        async with self.checkpoint_calls:
            await self._timed(self.sink.commit_checkpoint_async(checkpoint_id))

    async def _finish(self) -> None:
        # A sink has nothing to do here: the checkpoint that covers the end of its input (the
        # run's last one, at the latest) prepares and commits what it wrote.
        if self.kind == "sink":
            return
        try:
            out = await self._timed(asyncio.to_thread(self.transform.finish))
        except Exception as exc:
            self.counters.failed(describe(exc))
            raise NodeFailed(self.node.id, self.error_text(f"finish: {describe(exc)}")) from exc
        await self.emit(out)

    async def _aclose(self, batches: Any) -> None:
        aclose = getattr(batches, "aclose", None)
        if aclose is None:
            return
        try:
            await aclose()
        except Exception:
            # Its finally block failed while we were ending it anyway: report, carry on.
            self.processor.log.exception("%s: error closing batches()", self.node.id)
