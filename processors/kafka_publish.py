"""Write rows to Kafka as JSON records; a batch counts as written once every record is acked,
or (transactional) once the checkpoint's transaction commits."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import pyarrow as pa
from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors
from aiokafka.client import AIOKafkaClient, CoordinationType
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.protocol.transaction import EndTxnRequest

from dataflow.processor import ProcessorSpec, SchemaError, Sink, ui
from dataflow.processor.base import with_error_column
from dataflow_processors._kafka import (
    KafkaConnectionConfig,
    describe,
    retriable,
    start_with_retry,
)
from dataflow_processors._sql import query


class KafkaPublishConfig(KafkaConnectionConfig, kw_only=True):
    """Each row becomes one Kafka record: the value is the row (or `value_columns`) as a JSON
    object; the key and headers come from columns.

    A batch counts as written only when the brokers acknowledged every one of its records (with
    acks = all: every in-sync replica has it), so behind an at-least-once source nothing is lost;
    a record can be written twice when a run resumes after a failure (idempotence only removes
    the duplicates of the producer's own retries). Records the brokers reject go to `failure`
    with the error when on_error is route. An unreachable cluster is retried for
    connect_timeout_seconds (also mid-run, across a broker restart), then the node fails.

    With `transactional`, the records between two checkpoints are one Kafka transaction
    (transactional id `dataflow-FLOW-NODE-RUN`), committed once the checkpoint is committed:
    consumers reading with isolation.level = read_committed see them only then, and never
    twice. Records sent after a checkpoint wait for its commit. A restarted run commits the
    transaction of its last committed checkpoint if that had not happened yet (its producer id
    and epoch are kept in the server's data directory), and its new producer aborts any later
    one, whose records it then sends again. A broker error inside a transaction fails the node
    (the run replays from its last checkpoint); rows with a null topic still go to `failure`.
    Delivery exactly_once needs `transactional` and brokers with transactions (Kafka 0.11 and
    later; not the Tansu broker of the test suite), else the node fails at the start; without
    exactly_once, `transactional` still holds records back until their checkpoint.
    """

    topic: Annotated[
        str, ui("Topic", "Topic of every record; or set a topic column.", placeholder="orders")
    ] = ""
    topic_column: Annotated[
        str, ui("Topic column", "Column holding each row's topic, instead of a fixed topic.")
    ] = ""
    key_column: Annotated[
        str,
        ui(
            "Key column",
            "Column whose value, as text, is the record key: rows with the same key"
            " go to the same partition, in order. Empty = no key.",
        ),
    ] = ""
    value_columns: Annotated[
        list[str], ui("Value columns", "Columns in the JSON value; empty = all columns.")
    ] = []
    header_columns: Annotated[
        list[str],
        ui(
            "Header columns",
            "Columns sent as headers named after the column, the value as text (nulls left out).",
            advanced=True,
        ),
    ] = []
    headers: Annotated[
        dict[str, str], ui("Constant headers", "Headers added to every record.", advanced=True)
    ] = {}
    acks: Annotated[
        Literal["all", "1", "0"],
        ui(
            "Acks",
            "all: every in-sync replica has the record; 1: the partition leader has it;"
            " 0: do not wait (records can be lost).",
            advanced=True,
        ),
    ] = "all"
    enable_idempotence: Annotated[
        bool,
        ui(
            "Idempotent producer",
            "Brokers drop duplicates from producer retries; needs acks=all"
            " and a broker that supports it.",
            advanced=True,
        ),
    ] = True
    compression: Annotated[
        Literal["none", "gzip", "snappy", "lz4", "zstd"],
        ui("Compression", "snappy, lz4 and zstd need the cramjam package.", advanced=True),
    ] = "none"
    transactional: Annotated[
        bool,
        ui(
            "Transactions",
            "One Kafka transaction per checkpoint, committed with it: read_committed consumers"
            " see each record once, at its checkpoint. Needs acks=all, the idempotent producer"
            " and brokers with transactions; required by delivery exactly_once.",
            advanced=True,
        ),
    ] = False
    transaction_timeout_seconds: Annotated[
        float,
        ui(
            "Transaction timeout (s)",
            "How long the brokers keep a transaction open before aborting it: more than the"
            " flow's checkpoint interval, at most the brokers' transaction.max.timeout.ms.",
            advanced=True,
            gt=0,
            le=3600,
        ),
    ] = 60.0
    max_batch_bytes: Annotated[
        int,
        ui(
            "Batch bytes",
            "Size of one produce batch per partition; at most the brokers' message.max.bytes.",
            advanced=True,
            ge=1024,
            le=64 * 1024 * 1024,
        ),
    ] = 512 * 1024

    def __post_init__(self) -> None:
        if bool(self.topic) == bool(self.topic_column):
            raise ValueError("set either topic or topic_column")
        if self.enable_idempotence and self.acks != "all":
            raise ValueError("enable_idempotence needs acks = all")
        if self.transactional and not self.enable_idempotence:
            raise ValueError("transactional needs enable_idempotence (and acks = all)")


class Records(NamedTuple):
    """One write's records, serialized: per row a topic (or one for all), key, value, headers."""

    topics: list[str | None] | str
    keys: list[bytes | None] | None
    values: list[bytes]
    headers: list[list[tuple[str, bytes]]] | None


class KafkaPublish(Sink[KafkaPublishConfig]):
    spec = ProcessorSpec(
        name="kafka_publish",
        category="sink",
        status="beta",
        icon="kafka",
        title="Kafka publish",
        summary="Write rows to a Kafka topic as JSON records.",
        inputs=("in",),
        examples=[
            {"bootstrap_servers": "localhost:9092", "topic": "orders", "key_column": "order_id"},
            {
                "bootstrap_servers": "localhost:9092",
                "topic_column": "region",
                "value_columns": ["order_id", "amount"],
                "headers": {"source": "dataflow"},
            },
        ],
    )

    exactly_once = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._producer: AIOKafkaProducer | None = None
        # murmur2 of the key, as the Java clients do: a key lands where other producers put it.
        self._partitioner = DefaultPartitioner()
        self._spread = 0  # rotates where keyless rows start, so partitions fill evenly
        ctx = self.context
        #: Per run and node: a restarted run's producer fences the crashed one's.
        self.transactional_id = f"dataflow-{ctx.flow_id or '-'}-{ctx.node_id}-{ctx.run_id or '-'}"
        #: Set while records may be sent: cleared from a checkpoint until its commit.
        self._txn_open = asyncio.Event()
        self._prepared: int | None = None  # the checkpoint the open transaction belongs to
        self._sent = False  # whether the open transaction holds records

    @classmethod
    def exactly_once_problem(cls, config: KafkaPublishConfig) -> str | None:
        """Why a node with this config cannot deliver exactly once (None: it can)."""
        if not config.transactional:
            return "delivery exactly_once needs transactional: true (and brokers with transactions)"
        return None

    @property
    def state_file(self) -> Path:
        """Where the open transaction's producer id and epoch wait for its commit: what a
        restart needs to commit it when the crash came between the phases."""
        ctx = self.context
        return ctx.data_dir / "sinks" / (ctx.run_id or "run") / f"{ctx.node_id}.kafka.json"

    async def open(self) -> None:
        cfg = self.config
        problem = self.exactly_once_problem(cfg)
        if self.context.delivery == "exactly_once" and problem:
            raise ValueError(f"kafka_publish in node {self.context.node_id!r}: {problem}")

        def make() -> AIOKafkaProducer:
            return AIOKafkaProducer(
                **cfg.client_kwargs(),
                acks="all" if cfg.acks == "all" else int(cfg.acks),
                enable_idempotence=cfg.enable_idempotence,
                compression_type=None if cfg.compression == "none" else cfg.compression,
                max_batch_size=cfg.max_batch_bytes,
                # How long a record may wait for the cluster before its send fails.
                request_timeout_ms=max(int(cfg.connect_timeout_seconds * 1000), 5000),
                transactional_id=self.transactional_id if cfg.transactional else None,
                transaction_timeout_ms=int(cfg.transaction_timeout_seconds * 1000),
            )

        try:
            # Transactional: the start (InitProducerId) aborts whatever transaction of this
            # id a crashed run left open.
            self._producer = await start_with_retry(make, cfg, self.log)
        except ConnectionError as exc:
            if not cfg.transactional:
                raise
            raise ConnectionError(
                f"{exc}: the brokers refused a transactional producer; do they support"
                " transactions?"
            ) from exc
        if cfg.transactional:
            await self._begin()

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                if self.config.transactional and self._prepared is None and self._txn_open.is_set():
                    # Records of no checkpoint: the restarted run sends them again. A prepared
                    # transaction stays open for recover() to commit.
                    await producer.abort_transaction()
            except KafkaError as exc:  # the brokers abort it anyway: at the restart, or timed out
                self.log.warning("%s: cannot abort transaction: %s", self.context.node_id, exc)
            finally:
                await producer.stop()

    # -- transactions (one per checkpoint) --------------------------------------------------
    async def _begin(self) -> None:
        assert self._producer is not None
        await self._producer.begin_transaction()
        self._prepared, self._sent = None, False
        self._txn_open.set()

    async def prepare_checkpoint_async(self, checkpoint_id: int) -> None:
        if not self.config.transactional or self._prepared is not None:
            # Every write waited for its acknowledgements: nothing is in flight. A second
            # checkpoint before the commit of the first adds nothing to the transaction.
            return
        # Kafka has no "prepared" state: the transaction stays open, its records written but
        # invisible to read_committed consumers, until commit_checkpoint.
        self._prepared = checkpoint_id
        self._txn_open.clear()
        if self._sent:
            await asyncio.to_thread(self._save_state, checkpoint_id)

    async def commit_checkpoint_async(self, checkpoint_id: int) -> None:
        if self._prepared is None or checkpoint_id < self._prepared or self._producer is None:
            return  # nothing prepared, or committed already
        await self._producer.commit_transaction()
        await asyncio.to_thread(self._clear_state)
        await self._begin()

    async def recover_async(self, committed_checkpoint_id: int | None) -> None:
        if not self.config.transactional:
            return
        state = await asyncio.to_thread(self._load_state)
        if state is None:
            return
        if committed_checkpoint_id is not None and state["checkpoint"] <= committed_checkpoint_id:
            # The journal committed the checkpoint, the crash came before its transaction
            # did: commit it now. A later one is aborted by open()'s new producer.
            await _commit_transaction(self.config, state)
            self.log.info(
                "%s: committed the Kafka transaction of checkpoint %s after a restart",
                self.context.node_id,
                state["checkpoint"],
            )
        await asyncio.to_thread(self._clear_state)

    def _save_state(self, checkpoint_id: int) -> None:
        assert self._producer is not None
        txn = self._producer._txn_manager  # aiokafka keeps the producer id and epoch there
        state = {
            "checkpoint": checkpoint_id,
            "transactional_id": self.transactional_id,
            "producer_id": txn.producer_id,
            "producer_epoch": txn.producer_epoch,
        }
        path = self.state_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _load_state(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None

    def _clear_state(self) -> None:
        self.state_file.unlink(missing_ok=True)

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        schema, cfg = inputs.get("in"), self.config
        if schema is None:
            return {}
        for field in ("topic_column", "key_column", "value_columns", "header_columns"):
            names = getattr(cfg, field)
            for name in [names] if isinstance(names, str) else names:
                if name and name not in schema.names:
                    raise SchemaError(
                        f'column "{name}" does not exist (upstream columns: '
                        f"{', '.join(schema.names) or 'none'})",
                        field=field,
                    )
        if cfg.on_error == "route":
            return {"failure": schema.append(pa.field("error", pa.string()))}
        return {}

    async def write_async(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch] | None:
        if not batch.num_rows:
            return None
        records = await asyncio.to_thread(self._serialize, batch)
        if self.config.transactional:
            await self._txn_open.wait()  # the previous checkpoint's transaction commits first
            errors = await self._send_in_transaction(records, batch.num_rows)
        else:
            errors = await self._send_all(records, batch.num_rows)
        if not errors:
            return None
        rows = sorted(errors)
        if self.config.on_error == "route":
            failed = batch.take(pa.array(rows, pa.int64()))
            return {"failure": with_error_column(failed, pa.array([errors[i] for i in rows]))}
        raise RuntimeError(
            f"{len(rows)} of {batch.num_rows} records not written; first (row {rows[0]}): "
            f"{errors[rows[0]]}"
        )

    def _serialize(self, batch: pa.RecordBatch) -> Records:
        cfg = self.config
        names = cfg.value_columns or batch.schema.names
        # One DuckDB call turns the batch into JSON texts; a struct literal names the fields.
        pairs = ", ".join(f"{_literal(n)}: {_identifier(n)}" for n in names)
        values = query(f"SELECT to_json({{{pairs}}}) FROM input", batch).column(0)
        headers = None
        constant = [(k, v.encode()) for k, v in cfg.headers.items()]
        if cfg.header_columns:
            columns = [_bytes(batch.column(name)) for name in cfg.header_columns]
            headers = [
                [(n, v) for n, v in zip(cfg.header_columns, row, strict=True) if v is not None]
                + constant
                for row in zip(*columns, strict=True)
            ]
        elif constant:
            headers = [constant] * batch.num_rows
        return Records(
            topics=_text(batch.column(cfg.topic_column)) if cfg.topic_column else cfg.topic,
            keys=_bytes(batch.column(cfg.key_column)) if cfg.key_column else None,
            values=values.cast(pa.binary()).to_pylist(),
            headers=headers,
        )

    async def _send_all(self, records: Records, n: int) -> dict[int, str]:
        """Send every row; what fails for a passing reason (leader moved, broker restarting) is
        sent again until the connect timeout. Returns row -> error of what still failed."""
        cfg = self.config
        pending, errors = list(range(n)), {}
        deadline = time.monotonic() + cfg.connect_timeout_seconds
        delay = max(cfg.retry_backoff_seconds, 0.05)
        while pending:
            failed = await self._send(records, pending)
            pending = [i for i, e in failed.items() if retriable(e)]
            if time.monotonic() + delay > deadline:
                pending = []
            for i, exc in failed.items():
                if i not in pending:
                    errors[i] = cfg.unreachable(exc) if retriable(exc) else describe(exc)
            if pending:
                self.log.warning(
                    "%s: %d records not acknowledged (%s); sending again in %.1f s",
                    self.context.node_id,
                    len(pending),
                    type(failed[pending[0]]).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        return errors

    async def _send_in_transaction(self, records: Records, n: int) -> dict[int, str]:
        """Send every row in the open transaction. A broker error leaves the transaction only
        fit to be aborted: the node fails, and the run replays from its last checkpoint."""
        failed = await self._send(records, list(range(n)))
        # An empty transaction ends without the brokers: nothing to commit after a restart.
        self._sent = self._sent or len(failed) < n
        for i, exc in failed.items():
            if not isinstance(exc, ValueError):  # ValueError: a null topic, never sent
                raise RuntimeError(
                    f"transaction {self.transactional_id} failed at row {i}: {describe(exc)}"
                ) from exc
        return {i: describe(exc) for i, exc in failed.items()}

    async def _send(self, records: Records, rows: list[int]) -> dict[int, BaseException]:
        """One attempt: the rows in produce batches per partition (send_batch rather than a
        send() per record), awaited until acknowledged. Returns row -> error."""
        producer = self._producer
        assert producer is not None, "open() first"
        by_partition, failed = await self._route(records, rows)
        sends: list[tuple[Any, list[int]]] = []
        for (topic, partition), part_rows in by_partition.items():
            for builder, chunk in self._fill(records, part_rows):
                try:
                    future = await producer.send_batch(builder, topic, partition=partition)
                except KafkaError as exc:
                    failed.update(dict.fromkeys(chunk, exc))
                else:
                    sends.append((future, chunk))
        results = await asyncio.gather(*(f for f, _ in sends), return_exceptions=True)
        for result, (_, chunk) in zip(results, sends, strict=True):
            if isinstance(result, BaseException):
                failed.update(dict.fromkeys(chunk, result))
        return failed

    async def _route(
        self, records: Records, rows: list[int]
    ) -> tuple[dict[tuple[str, int], list[int]], dict[int, BaseException]]:
        """Rows per (topic, partition), and the rows that have nowhere to go."""
        assert self._producer is not None
        by_topic: dict[str | None, list[int]] = {}
        if isinstance(records.topics, str):
            by_topic[records.topics] = rows
        else:
            for i in rows:
                by_topic.setdefault(records.topics[i], []).append(i)
        by_partition: dict[tuple[str, int], list[int]] = {}
        failed: dict[int, BaseException] = {}
        for topic, topic_rows in by_topic.items():
            if topic is None:
                null = ValueError(f'topic column "{self.config.topic_column}" is null')
                failed.update(dict.fromkeys(topic_rows, null))
                continue
            try:
                partitions = sorted(await self._producer.partitions_for(topic))
            except KafkaError as exc:
                failed.update(dict.fromkeys(topic_rows, exc))
                continue
            if records.keys is not None:
                keys = records.keys
                parts = [self._partitioner(keys[i], partitions, partitions) for i in topic_rows]
            else:  # keyless: one contiguous run per partition, each run a produce batch
                self._spread += 1
                n, count = len(partitions), len(topic_rows)
                parts = [partitions[(self._spread + k * n // count) % n] for k in range(count)]
            for i, p in zip(topic_rows, parts, strict=True):
                by_partition.setdefault((topic, p), []).append(i)
        return by_partition, failed

    def _fill(self, records: Records, rows: list[int]) -> list[tuple[Any, list[int]]]:
        """Produce batches (of max_batch_bytes at most) holding `rows`, with their rows."""
        assert self._producer is not None
        batches: list[tuple[Any, list[int]]] = []
        chunk: list[int] = []
        builder = self._producer.create_batch()
        for i in rows:
            key = records.keys[i] if records.keys else None
            headers = records.headers[i] if records.headers else []
            record = {"key": key, "value": records.values[i], "headers": headers}
            if builder.append(timestamp=None, **record) is None:  # full: start the next one
                batches.append((builder, chunk))
                builder, chunk = self._producer.create_batch(), []
                builder.append(timestamp=None, **record)  # an empty batch takes any record
            chunk.append(i)
        batches.append((builder, chunk))
        for builder, _ in batches:
            # A write hands over whole batches and waits for their acks: lingering for more
            # records would only add latency, so each batch goes out at once.
            builder.close()
        return batches


def _literal(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(column: pa.Array) -> list[str | None]:
    return column.cast(pa.string()).to_pylist()


def _bytes(column: pa.Array) -> list[bytes | None]:
    """Column values as bytes: binary as is, anything else as its text form in UTF-8."""
    if not (pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type)):
        column = column.cast(pa.string()).cast(pa.binary())
    return column.to_pylist()


async def _commit_transaction(config: KafkaPublishConfig, state: dict[str, Any]) -> None:
    """Commit a transaction a crashed producer left open, by its producer id and epoch (an
    EndTxn request to the transaction coordinator, as Flink's Kafka sink resumes one). The
    brokers answer the commit of a transaction already committed with success."""
    tid, checkpoint = state["transactional_id"], state["checkpoint"]
    client = AIOKafkaClient(
        **config.client_kwargs(),
        request_timeout_ms=max(int(config.connect_timeout_seconds * 1000), 5000),
    )
    deadline = time.monotonic() + config.connect_timeout_seconds
    delay = max(config.retry_backoff_seconds, 0.05)
    booted = False
    try:
        while True:
            try:
                if not booted:
                    await client.bootstrap()
                    booted = True
                node = await client.coordinator_lookup(CoordinationType.TRANSACTION, tid)
                request = EndTxnRequest(tid, state["producer_id"], state["producer_epoch"], True)
                response = await client.send(node, request)
                error = kafka_errors.for_code(response.error_code)
                if error is kafka_errors.NoError:
                    return
                raise error()
            except KafkaError as exc:
                again = retriable(exc) or isinstance(exc, kafka_errors.ConcurrentTransactions)
                if again and time.monotonic() + delay <= deadline:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                why = (
                    config.unreachable(exc)
                    if again
                    else f"{describe(exc)}; the brokers aborted it (a transaction timeout"
                    " shorter than the outage?), so its records are not in Kafka"
                )
                raise RuntimeError(
                    f"cannot commit Kafka transaction {tid} of checkpoint {checkpoint}"
                    f" after a restart: {why}"
                ) from exc
    finally:
        await client.close()
