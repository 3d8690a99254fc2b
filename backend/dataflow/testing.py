"""Test helpers for processors and flows: list source and sink, run_transform, run_flow.

Processor tests call a processor directly::

    out = run_transform(Filter, {"condition": "amount > 100"}, [{"amount": 5}, {"amount": 500}])
    assert out == {"matched": [{"amount": 500}], "unmatched": [{"amount": 5}]}

Flow tests run the real engine::

    result = await run_flow({
        "nodes": [
            {"id": "in", "type": "list_source", "config": {"rows": [{"a": 1}, {"a": 2}]}},
            {"id": "keep", "type": "filter", "config": {"condition": "a > 1"}},
            {"id": "out", "type": "list_sink"},
        ],
        "edges": [
            {"id": "e1", "source": "in", "target": "keep"},
            {"id": "e2", "source": "keep", "source_port": "matched", "target": "out"},
        ],
    }, registry_with(Filter))
    assert result.outputs == {"out": [{"a": 2}]}
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeAlias, TypeVar

import msgspec
import pyarrow as pa

from dataflow.model import Flow, convert_flow, decode_flow
from dataflow.processor import (
    Context,
    Processor,
    ProcessorConfig,
    ProcessorSpec,
    Registry,
    Sink,
    Source,
    Transform,
    default_registry,
    ui,
)
from dataflow.processor.base import Output
from dataflow.runtime import Checkpoint, FlowMetrics, FlowRun, RunContext
from dataflow.secrets import SecretNotFound

__all__ = [
    "ListSink",
    "ListSinkConfig",
    "ListSource",
    "ListSourceConfig",
    "RunResult",
    "StaticSecrets",
    "registry_with",
    "run_flow",
    "run_sink",
    "run_source",
    "run_transform",
    "to_batches",
]

Rows: TypeAlias = Iterable[Mapping[str, Any]] | pa.RecordBatch | pa.Table | Iterable[pa.RecordBatch]
T = TypeVar("T")
P = TypeVar("P", bound=Processor[Any])


# -- list source and sink ------------------------------------------------------------------
class ListSourceConfig(ProcessorConfig, kw_only=True):
    """Emits the given rows (or, in-process, Arrow batches), `batch_size` rows per batch."""

    rows: Annotated[list[dict[str, Any]], ui("Rows", "Records to emit.")] = []
    batches: Annotated[
        list[Any],
        ui("Batches", "pyarrow RecordBatches or Tables (in-process only), emitted as given."),
    ] = []
    batch_size: Annotated[int, ui("Batch size", "Rows per batch made from `rows`.", ge=1)] = 1024
    repeat: Annotated[int, ui("Repeat", "Times to emit everything; 0: forever.", ge=0)] = 1
    delay_seconds: Annotated[float, ui("Delay (s)", "Wait before each batch.", ge=0)] = 0.0


class ListSource(Source[ListSourceConfig]):
    """Offsets count the records emitted, so a restored source skips that many."""

    spec = ProcessorSpec(
        name="list_source",
        category="source",
        status="stable",
        summary="Emit records given in the config (for tests and examples).",
        outputs=("out",),
        examples=[{"rows": [{"id": 1}, {"id": 2}], "batch_size": 1}],
    )

    def __init__(self, config: ListSourceConfig, context: Context | None = None):
        super().__init__(config, context)
        self.emitted = 0  # records since the last restore, over every repeat
        self._skip = 0

    def _round(self) -> list[pa.RecordBatch]:
        if self.config.batches:
            return to_batches(self.config.batches)
        return to_batches(self.config.rows, self.config.batch_size)

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        round_ = self._round()
        per_round = sum(b.num_rows for b in round_)
        repeat = self.config.repeat
        if not per_round:
            return
        done_rounds, skip = divmod(self._skip, per_round)
        rounds = range(done_rounds, repeat) if repeat else _forever(done_rounds)
        for _ in rounds:
            for batch in round_:
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    continue
                if skip:
                    batch, skip = batch.slice(skip), 0
                if self.config.delay_seconds:
                    await asyncio.sleep(self.config.delay_seconds)
                self.emitted += batch.num_rows
                yield batch

    def offset(self) -> int:
        return self._skip + self.emitted

    def restore(self, offset: Any) -> None:
        self._skip = int(offset or 0)
        self.emitted = 0


def _forever(start: int) -> Iterable[int]:
    n = start
    while True:
        yield n
        n += 1


class ListSinkConfig(ProcessorConfig, kw_only=True):
    """Keeps every batch it receives in memory."""

    delay_seconds: Annotated[
        float, ui("Delay (s)", "Time each write takes (a slow sink).", ge=0)
    ] = 0.0


class ListSink(Sink[ListSinkConfig]):
    """`batches` holds the received batch objects, `rows` the records as dicts."""

    spec = ProcessorSpec(
        name="list_sink",
        category="sink",
        status="stable",
        summary="Collect records in memory (for tests and examples).",
        inputs=("in",),
        examples=[{}],
    )

    def __init__(self, config: ListSinkConfig, context: Context | None = None):
        super().__init__(config, context)
        self.batches: list[pa.RecordBatch] = []
        self.flushes = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if self.config.delay_seconds:
            time.sleep(self.config.delay_seconds)  # runs in a worker thread
        self.batches.append(batch)

    def flush(self) -> None:
        self.flushes += 1

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [row for batch in self.batches for row in batch.to_pylist()]


def registry_with(*classes: type[Processor]) -> Registry:
    """A registry holding the list source and sink plus `classes`."""
    return Registry([ListSource, ListSink, *classes])


# -- calling one processor directly --------------------------------------------------------
def to_batches(rows: Rows, batch_size: int | None = None) -> list[pa.RecordBatch]:
    """Rows (dicts), a batch, a table or batches as non-empty record batches; with
    `batch_size`, cut into batches of at most that many rows."""
    if isinstance(rows, pa.RecordBatch):
        batches = [rows]
    elif isinstance(rows, pa.Table):
        batches = rows.to_batches()
    else:
        items = list(rows)
        if items and all(isinstance(i, pa.RecordBatch | pa.Table) for i in items):
            batches = [b for i in items for b in to_batches(i)]
        else:
            # One table for all rows: every batch gets the same inferred schema.
            batches = pa.Table.from_pylist(items).to_batches()
    if batch_size is not None:
        batches = [
            b.slice(i, batch_size) for b in batches for i in range(0, b.num_rows, batch_size)
        ]
    return [b for b in batches if b.num_rows]


def _collect(into: dict[str, list[dict[str, Any]]], out: Output | None) -> None:
    for port, data in (out or {}).items():
        if data is not None:
            into.setdefault(port, []).extend(data.to_pylist())


def _instantiate(cls: type[P], config: Mapping[str, Any], context: Context | None) -> P:
    return cls(cls.parse_config(config), context or Context(node_id=cls.spec.name))


def run_transform(
    cls: type[Transform],
    config: Mapping[str, Any],
    rows: Rows,
    port: str = "in",
    *,
    batch_size: int | None = None,
    context: Context | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Feed `rows` (one batch, or `batch_size` rows per batch) to a transform on `port`, then
    call finish(); returns the records per output port (every declared port present).
    open() and close() are called; exceptions propagate."""

    async def go() -> dict[str, list[dict[str, Any]]]:
        proc = _instantiate(cls, config, context)
        out: dict[str, list[dict[str, Any]]] = {p: [] for p in cls.output_ports(proc.config)}
        await proc.open()
        try:
            for batch in to_batches(rows, batch_size):
                _collect(out, await proc.process_async(port, batch))
            _collect(out, proc.finish())
        finally:
            await proc.close()
        return out

    return _run_sync(go())


def run_source(
    cls: type[Source],
    config: Mapping[str, Any],
    limit: int | None = None,
    *,
    offset: Any = None,
    context: Context | None = None,
) -> list[dict[str, Any]]:
    """The records a source emits (on any port), at most `limit`; restored to `offset` first
    when given."""

    async def go() -> list[dict[str, Any]]:
        proc = _instantiate(cls, config, context)
        if offset is not None:
            proc.restore(offset)
        rows: list[dict[str, Any]] = []
        await proc.open()
        try:
            batches = proc.batches()
            try:
                async for item in batches:
                    batch = item[1] if isinstance(item, tuple) else item
                    rows.extend(batch.to_pylist())
                    if limit is not None and len(rows) >= limit:
                        break
            finally:
                # As the engine does: batches() is an async generator as a rule.
                aclose = getattr(batches, "aclose", None)
                if aclose is not None:
                    await aclose()
        finally:
            await proc.close()
        return rows if limit is None else rows[:limit]

    return _run_sync(go())


def run_sink(
    cls: type[Sink],
    config: Mapping[str, Any],
    rows: Rows,
    *,
    batch_size: int | None = None,
    context: Context | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Write `rows` to a sink as a run of a finite input does: recover(None), open, write,
    then the run's last checkpoint (prepare_checkpoint(1), whose default is flush, and
    commit_checkpoint(1)), close. Returns the records it rejected, per port (e.g.
    `failure`)."""

    async def go() -> dict[str, list[dict[str, Any]]]:
        proc = _instantiate(cls, config, context)
        out: dict[str, list[dict[str, Any]]] = {}
        await proc.recover_async(None)
        await proc.open()
        try:
            for batch in to_batches(rows, batch_size):
                _collect(out, await proc.write_async(batch))
            await proc.prepare_checkpoint_async(1)
            await proc.commit_checkpoint_async(1)
        finally:
            await proc.close()
        return out

    return _run_sync(go())


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from sync code, also when called inside a running loop
    (an async test): then it runs on a loop of its own in a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


# -- running a whole flow ------------------------------------------------------------------
@dataclass
class RunResult:
    state: str
    #: Records collected by each list_sink node, by node id.
    outputs: dict[str, list[dict[str, Any]]]
    metrics: FlowMetrics
    error: str | None = None
    error_node: str | None = None
    offsets: dict[str, Any] = field(default_factory=dict)


def as_flow(flow: Flow | Mapping[str, Any] | str | bytes) -> Flow:
    """A Flow from a Flow, a dict (`name` may be left out) or flow JSON."""
    if isinstance(flow, Flow):
        return flow
    if isinstance(flow, str | bytes):
        return decode_flow(flow)
    doc = dict(flow)
    doc.setdefault("name", "test flow")
    return convert_flow(doc)


def with_queue_capacity(flow: Flow, max_batches: int) -> Flow:
    """The flow with every edge holding at most `max_batches` batches."""
    edges = [
        msgspec.structs.replace(
            e, settings=msgspec.structs.replace(e.settings, max_batches=max_batches)
        )
        for e in flow.edges
    ]
    return msgspec.structs.replace(flow, edges=edges)


class StaticSecrets:
    """Secret values given by name (the Secrets protocol of dataflow.secrets), for tests."""

    def __init__(self, values: Mapping[str, str]):
        self.values = dict(values)

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def value(self, name: str) -> str:
        if name not in self.values:
            raise SecretNotFound(name)
        return self.values[name]


async def run_flow(
    flow: Flow | Mapping[str, Any] | str | bytes,
    registry: Registry | None = None,
    *,
    timeout: float = 30.0,
    queue_capacity: int | None = None,
    offsets: Mapping[str, Any] | None = None,
    restore: Checkpoint | None = None,
    context: RunContext | None = None,
    secrets: Mapping[str, str] | None = None,
) -> RunResult:
    """Run a flow to its end with the real engine and return what its list sinks collected.

    `registry` defaults to the installed processors plus the list source and sink;
    `queue_capacity` overrides every edge's max_batches (1 flushes out backpressure bugs).
    `restore` resumes from a checkpoint (`FlowRun.checkpoint()` of an earlier run returns
    one): source offsets, node state, sinks recovered up to it; `offsets` resumes sources only.
    `secrets` gives the values of the secrets the flow refers to (`{"secret": NAME}`), as the
    server's secret store would. The flow must validate (FlowBuildError lists the problems).
    A flow still running after `timeout` seconds is force-stopped: TimeoutError.
    """
    doc = as_flow(flow)
    if queue_capacity is not None:
        doc = with_queue_capacity(doc, queue_capacity)
    if registry is None:
        registry = registry_with(
            *(c for c in default_registry() if c not in (ListSource, ListSink))
        )
    run = FlowRun.of(
        doc,
        registry,
        secrets=StaticSecrets(secrets) if secrets is not None else None,
        context=context,
        offsets=offsets,
        restore=restore,
    )
    await run.start()
    try:
        outcome = await asyncio.wait_for(asyncio.shield(run.wait()), timeout)
    except TimeoutError:
        await run.stop(force=True)
        raise TimeoutError(
            f"flow {doc.name!r} did not finish within {timeout}s "
            f"(metrics: {msgspec.json.encode(run.metrics()).decode()})"
        ) from None
    outputs = {
        node.id: sink.rows
        for node in doc.nodes
        if isinstance(sink := run.processor(node.id), ListSink)
    }
    return RunResult(
        state=outcome.state,
        outputs=outputs,
        metrics=run.metrics(),
        error=outcome.error,
        error_node=outcome.error_node,
        offsets=run.offsets(),
    )
