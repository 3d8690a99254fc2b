"""Read Kafka records as Arrow batches; offsets go back to Kafka only once the sinks wrote them."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, Literal

import msgspec
import pyarrow as pa
import pyarrow.json as pj
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from dataflow.processor import ProcessorSpec, Source, ui
from dataflow_processors._fields import BatchSize, LingerMs
from dataflow_processors._kafka import KafkaConnectionConfig, retriable, start_with_retry

Metadata = Literal["key", "topic", "partition", "offset", "timestamp", "headers"]

FAILURE_SCHEMA = pa.schema(
    [
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("value", pa.binary()),
        ("error", pa.string()),
    ]
)


class KafkaConsumeConfig(KafkaConnectionConfig, kw_only=True):
    """Records of Kafka topics as rows: the fields of each JSON value become columns (or the
    value is one `text` or `bytes` column), plus optional `kafka_*` metadata columns.

    Delivery is at-least-once. The node's offset is `{"topic:partition": next offset}` for every
    record it emitted; offsets are committed to Kafka only when the flow's sinks wrote everything
    up to them, never automatically. A restart resumes from the last checkpointed offset (else the
    group's committed one): nothing is lost, and records emitted after the last commit may come
    again. Nodes or servers with the same group id split the partitions between them; a partition
    that moves to another member resumes there from its last commit. A record that cannot be
    decoded goes to `failure` with its raw value and the reason.
    """

    on_error: Annotated[
        Literal["fail", "route", "retry", "drop"],
        ui(
            "On error",
            "What happens to a record that cannot be decoded. route: to the `failure`"
            " port with its raw value and the reason; drop: log and skip; fail or retry: stop the"
            " run.",
            advanced=True,
        ),
    ] = "route"
    topics: Annotated[
        list[str], ui("Topics", "Topics to read; or set a pattern instead.", examples=[["orders"]])
    ] = []
    pattern: Annotated[
        str,
        ui(
            "Topic pattern",
            "Regular expression: every matching topic is read, also ones created later.",
            placeholder=r"^orders\..*",
        ),
    ] = ""
    group_id: Annotated[
        str,
        ui(
            "Group id",
            "Consumer group: instances with the same id split the partitions, and its"
            " committed offsets say where to resume.",
            placeholder="orders-to-warehouse",
            min_length=1,
        ),
    ]
    start_from: Annotated[
        Literal["committed", "earliest", "latest"],
        ui(
            "Start from",
            "committed: the group's committed offsets (the beginning where there are"
            " none); earliest / latest: the beginning / end of each partition, ignoring committed"
            " offsets when the run starts.",
        ),
    ] = "committed"
    value_format: Annotated[
        Literal["json", "text", "bytes"],
        ui(
            "Value format",
            "json: each value is a JSON object whose fields become columns (types"
            " inferred per batch); text: a UTF-8 `value` column; bytes: a binary `value` column.",
        ),
    ] = "json"
    metadata: Annotated[
        list[Metadata],
        ui(
            "Metadata columns",
            "Kafka fields added as kafka_<name> columns (headers: a map of name to bytes).",
        ),
    ] = []
    key_format: Annotated[
        Literal["text", "bytes"],
        ui(
            "Key format",
            "Type of kafka_key: UTF-8 text (invalid bytes shown as U+FFFD) or bytes.",
            advanced=True,
        ),
    ] = "text"
    batch_size: BatchSize = 10_000
    linger_ms: LingerMs = 100
    session_timeout_ms: Annotated[
        int,
        ui(
            "Session timeout (ms)",
            "A member silent this long leaves the group and its partitions move to the others.",
            advanced=True,
            ge=1000,
        ),
    ] = 10_000
    heartbeat_interval_ms: Annotated[
        int,
        ui(
            "Heartbeat interval (ms)",
            "Below a third of the session timeout.",
            advanced=True,
            ge=100,
        ),
    ] = 3_000
    max_poll_interval_ms: Annotated[
        int,
        ui(
            "Max poll interval (ms)",
            "Longest back-pressure pause before the group hands this"
            " member's partitions to others.",
            advanced=True,
            ge=1000,
        ),
    ] = 300_000
    max_partition_fetch_bytes: Annotated[
        int,
        ui(
            "Fetch bytes per partition",
            "Most bytes one fetch returns per partition.",
            advanced=True,
            ge=1024,
        ),
    ] = 1_048_576
    isolation_level: Annotated[
        Literal["read_uncommitted", "read_committed"],
        ui(
            "Isolation level",
            "read_committed: only records of committed transactions (what an exactly-once"
            " kafka_publish upstream wrote); read_uncommitted: everything, at once.",
            advanced=True,
        ),
    ] = "read_uncommitted"

    def __post_init__(self) -> None:
        if bool(self.topics) == bool(self.pattern):
            raise ValueError("set either topics or pattern")
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern: {exc}") from None
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be below session_timeout_ms")


def _key(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


class _Rebalance(ConsumerRebalanceListener):
    """aiokafka reports assignments to a listener object; this one hands them to the source."""

    def __init__(self, source: KafkaConsume):
        self.source = source

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.source._reading = set()  # positions are sorted out on assignment

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.source._assigned(set(assigned))


class KafkaConsume(Source[KafkaConsumeConfig]):
    spec = ProcessorSpec(
        name="kafka_consume",
        category="source",
        status="beta",
        icon="kafka",
        title="Kafka consume",
        summary="Read records from Kafka topics, at-least-once.",
        outputs=("out",),
        examples=[
            {"bootstrap_servers": "localhost:9092", "topics": ["orders"], "group_id": "orders-etl"},
            {
                "bootstrap_servers": "localhost:9092",
                "pattern": "^logs\\.",
                "group_id": "logs",
                "value_format": "text",
                "metadata": ["topic", "timestamp"],
                "start_from": "latest",
            },
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._consumer: AIOKafkaConsumer | None = None
        # Next offset per partition, for everything yielded: what offset() reports.
        self._positions: dict[TopicPartition, int] = {}
        # Next offset per partition, for everything fetched (some of it not yielded yet).
        self._fetched: dict[TopicPartition, int] = {}
        self._resumed = False  # restore() was called: start_from no longer applies
        self._first_assignment = True
        self._reading: set[TopicPartition] = set()  # assigned, and positioned for reading
        self._failing_since: float | None = None

    # -- offsets -------------------------------------------------------------------------
    def offset(self) -> dict[str, int]:
        return {_key(tp): n for tp, n in self._positions.items()}

    def restore(self, offset: Any) -> None:
        self._positions = self._parse(offset)
        self._fetched = dict(self._positions)
        self._resumed = offset is not None

    async def commit(self, offset: Any) -> None:
        if self._consumer is None:
            return
        mine = self._consumer.assignment()
        offsets = {tp: n for tp, n in self._parse(offset).items() if tp in mine}
        if not offsets:
            return
        try:
            await asyncio.wait_for(
                self._consumer.commit(offsets), self.config.connect_timeout_seconds
            )
        except (KafkaError, TimeoutError) as exc:
            # Offsets only move forward and the next commit covers this one; records whose commit
            # is lost are read again after a restart or rebalance (at-least-once).
            self.log.warning(
                "%s: offset commit failed (%s: %s); the next commit covers it",
                self.context.node_id,
                type(exc).__name__,
                exc,
            )

    @staticmethod
    def _parse(offset: Any) -> dict[TopicPartition, int]:
        parsed = {}
        for key, n in (offset or {}).items():
            topic, part = key.rsplit(":", 1)
            parsed[TopicPartition(topic, int(part))] = int(n)
        return parsed

    @property
    def assignment(self) -> list[str]:
        """The partitions this instance reads now, as "topic:partition"."""
        return sorted(_key(tp) for tp in self._reading)

    # -- lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:
        cfg = self.config

        def make() -> AIOKafkaConsumer:
            return AIOKafkaConsumer(
                **cfg.client_kwargs(),
                group_id=cfg.group_id,
                enable_auto_commit=False,  # commit() does it, once the sinks wrote the records
                auto_offset_reset="latest" if cfg.start_from == "latest" else "earliest",
                session_timeout_ms=cfg.session_timeout_ms,
                heartbeat_interval_ms=cfg.heartbeat_interval_ms,
                max_poll_interval_ms=cfg.max_poll_interval_ms,
                max_partition_fetch_bytes=cfg.max_partition_fetch_bytes,
                isolation_level=cfg.isolation_level,
                request_timeout_ms=max(int(cfg.connect_timeout_seconds * 1000), 5000),
            )

        consumer = await start_with_retry(make, cfg, self.log)
        listener = _Rebalance(self)
        if cfg.pattern:
            consumer.subscribe(pattern=cfg.pattern, listener=listener)
        else:
            consumer.subscribe(topics=cfg.topics, listener=listener)
        self._consumer = consumer

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()  # rebalance callbacks may still run meanwhile
            self._consumer = None

    async def _assigned(self, assigned: set[TopicPartition]) -> None:
        if self._consumer is None:
            return
        # Partitions that moved to another member resume there from the committed offset: what
        # we yielded but did not commit may be read twice (at-least-once), never skipped.
        self._positions = {tp: n for tp, n in self._positions.items() if tp in assigned}
        self._fetched = {tp: n for tp, n in self._fetched.items() if tp in assigned}
        # aiokafka resets kept partitions to the committed offset; we are further on already.
        for tp, n in self._fetched.items():
            self._consumer.seek(tp, n)
        fresh = [tp for tp in assigned if tp not in self._fetched]
        # earliest/latest only shape where a run starts; partitions that arrive later through a
        # rebalance continue from what the group committed.
        if self._first_assignment and not self._resumed and fresh:
            if self.config.start_from == "earliest":
                await self._consumer.seek_to_beginning(*fresh)
            elif self.config.start_from == "latest":
                await self._consumer.seek_to_end(*fresh)
        self._first_assignment = False
        self._reading = assigned

    # -- reading -------------------------------------------------------------------------
    async def batches(self) -> AsyncIterator[pa.RecordBatch | tuple[str, pa.RecordBatch]]:
        assert self._consumer is not None, "open() first"
        # A restarted generator (after an error, or restore()) resumes from what was yielded.
        self._fetched = dict(self._positions)
        for tp in self._consumer.assignment() & self._positions.keys():
            self._consumer.seek(tp, self._positions[tp])
        while True:
            records, next_positions = await self._fetch()
            good, bad = await asyncio.to_thread(self._decode, records)
            if bad is not None and self.config.on_error != "route":
                row = bad.slice(0, 1).to_pylist()[0]
                where = (
                    f"{row['kafka_topic']}:{row['kafka_partition']} offset {row['kafka_offset']}"
                )
                if self.config.on_error != "drop":
                    raise ValueError(f"record at {where}: {row['error']}")
                self.log.warning(
                    "%s: dropped %d undecodable records, first at %s: %s",
                    self.context.node_id,
                    bad.num_rows,
                    where,
                    row["error"],
                )
                bad = None
            if good is not None and bad is not None:
                yield "failure", bad  # offsets advance with the last yield, never ahead of it
                bad = None
            # Partitions revoked meanwhile belong to another member now: not ours to report.
            self._positions.update(
                (tp, n) for tp, n in next_positions.items() if tp in self._fetched
            )
            if good is not None:
                yield good
            elif bad is not None:
                yield "failure", bad

    async def _fetch(self) -> tuple[list[ConsumerRecord], dict[TopicPartition, int]]:
        """Up to batch_size records, waiting at most linger_ms once the first one arrived."""
        cfg, deadline = self.config, None
        records: list[ConsumerRecord] = []
        nexts: dict[TopicPartition, int] = {}
        while len(records) < cfg.batch_size:
            wait = 1.0 if deadline is None else max(deadline - time.monotonic(), 0)
            for tp, msgs in (await self._getmany(wait, cfg.batch_size - len(records))).items():
                records += msgs
                self._positions.setdefault(tp, msgs[0].offset)
                self._fetched[tp] = nexts[tp] = msgs[-1].offset + 1
            if records and deadline is None:
                deadline = time.monotonic() + cfg.linger_ms / 1000
            if deadline is not None and time.monotonic() >= deadline:
                break
        return records, nexts

    async def _getmany(self, wait: float, limit: int) -> dict[TopicPartition, list]:
        assert self._consumer is not None
        try:
            got = await self._consumer.getmany(timeout_ms=int(wait * 1000), max_records=limit)
        except KafkaError as exc:
            # aiokafka reconnects by itself; what reaches us is retried until the timeout.
            now = time.monotonic()
            self._failing_since = self._failing_since or now
            if (
                not retriable(exc)
                or now - self._failing_since > self.config.connect_timeout_seconds
            ):
                raise ConnectionError(self.config.unreachable(exc)) from exc
            await asyncio.sleep(self.config.retry_backoff_seconds)
            return {}
        self._failing_since = None
        return got

    # -- decoding (in a worker thread) ---------------------------------------------------
    def _decode(self, records: list) -> tuple[pa.RecordBatch | None, pa.RecordBatch | None]:
        """The rows (value columns + metadata) and the records that could not be decoded."""
        errors: dict[int, str] = {}
        values = [r.value for r in records]
        table, rows = DECODERS[self.config.value_format](values, errors)
        take = None if len(rows) == len(records) else pa.array(rows, pa.int64())
        for name in self.config.metadata:
            column = self._metadata_column(name, records)
            column = column if take is None else column.take(take)
            if f"kafka_{name}" in table.column_names:  # the metadata wins over a same-named field
                table = table.drop_columns(f"kafka_{name}")
            table = table.append_column(f"kafka_{name}", column)
        good = table.combine_chunks().to_batches()[0] if rows else None
        if not errors:
            return good, None
        failed = [records[i] for i in sorted(errors)]
        bad = pa.RecordBatch.from_arrays(
            [
                pa.array([r.topic for r in failed], pa.string()),
                pa.array([r.partition for r in failed], pa.int32()),
                pa.array([r.offset for r in failed], pa.int64()),
                pa.array([r.value for r in failed], pa.binary()),
                pa.array([errors[i] for i in sorted(errors)], pa.string()),
            ],
            schema=FAILURE_SCHEMA,
        )
        return good, bad

    def _metadata_column(self, name: str, records: list) -> pa.Array:
        match name:
            case "key":
                keys = pa.array([r.key for r in records], pa.binary())
                return keys if self.config.key_format == "bytes" else _text(keys, replace=True)
            case "topic":
                return pa.array([r.topic for r in records], pa.string())
            case "partition":
                return pa.array([r.partition for r in records], pa.int32())
            case "offset":
                return pa.array([r.offset for r in records], pa.int64())
            case "timestamp":
                millis = pa.array([r.timestamp for r in records], pa.int64())
                return millis.cast(pa.timestamp("ms", tz="UTC"))
            case _:
                return pa.array([r.headers for r in records], HEADERS_TYPE)

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        cfg = self.config
        if cfg.value_format == "json":
            return None  # the columns come from the data
        value = pa.string() if cfg.value_format == "text" else pa.binary()
        fields = [pa.field("value", value)]
        for name in cfg.metadata:
            kind = METADATA_TYPES[name]
            if name == "key" and cfg.key_format == "bytes":
                kind = pa.binary()
            fields.append(pa.field(f"kafka_{name}", kind))
        out = {"out": pa.schema(fields)}
        if cfg.on_error == "route":
            out["failure"] = FAILURE_SCHEMA
        return out


HEADERS_TYPE = pa.map_(pa.string(), pa.binary())
METADATA_TYPES = {
    "key": pa.string(),
    "topic": pa.string(),
    "partition": pa.int32(),
    "offset": pa.int64(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "headers": HEADERS_TYPE,
}


def _text(
    values: pa.Array, replace: bool = False, errors: dict[int, str] | None = None
) -> pa.Array:
    """Binary as UTF-8 text in one cast; only a batch holding invalid bytes is checked per value."""
    try:
        return values.cast(pa.string())
    except pa.ArrowInvalid:
        pass
    texts: list[str | None] = []
    for i, v in enumerate(values.to_pylist()):
        try:
            texts.append(
                None if v is None else v.decode("utf-8", "replace" if replace else "strict")
            )
        except UnicodeDecodeError as exc:
            assert errors is not None
            errors[i] = f"value is not valid UTF-8 ({exc.reason} at byte {exc.start})"
            texts.append(None)
    return pa.array(texts, pa.string())


def _decode_bytes(values: list, errors: dict[int, str]) -> tuple[pa.Table, list[int]]:
    return pa.table({"value": pa.array(values, pa.binary())}), list(range(len(values)))


def _decode_text(values: list, errors: dict[int, str]) -> tuple[pa.Table, list[int]]:
    text = _text(pa.array(values, pa.binary()), errors=errors)
    rows = [i for i in range(len(values)) if i not in errors]
    if errors:
        text = text.take(pa.array(rows, pa.int64()))
    return pa.table({"value": text}), rows


_ROW = re.compile(r"^(.*) in row (\d+)$")


def _decode_json(values: list, errors: dict[int, str]) -> tuple[pa.Table, list[int]]:
    """JSON objects as columns from one Arrow read of the batch as NDJSON.

    Returns the table and, per row, the index of its value. A value that is not a JSON object, or
    whose field types clash with the rows before it, lands in `errors` instead.
    """
    # A tombstone (null value) becomes a row of nulls, so its key and offset still flow on.
    lines = [b"{}" if v is None else v for v in values]
    rows, checked = list(range(len(lines))), False
    while rows:
        data = b"\n".join([lines[i] for i in rows])
        if checked or (data.count(b"\n") == len(rows) - 1 and b"\r" not in data):
            try:
                table = pj.read_json(
                    io.BytesIO(data), read_options=pj.ReadOptions(block_size=len(data) + 1)
                )
            except pa.ArrowInvalid as exc:
                found = _ROW.match(str(exc))
                if found is None:
                    raise
                errors[rows.pop(int(found[2]))] = found[1]
                continue
            if table.num_rows == len(rows):
                return table, rows
            assert not checked, "JSON reader returned a different number of rows"
        # A value that is blank, spans lines or holds two documents would shift the rows: check
        # the values one by one, on this slow path only.
        rows = [i for i in rows if _one_line_object(lines, i, errors)]
        checked = True
    return pa.table({}), rows


def _one_line_object(lines: list[bytes], i: int, errors: dict[int, str]) -> bool:
    try:
        doc = msgspec.json.decode(lines[i])
    except msgspec.DecodeError as exc:
        errors[i] = f"invalid JSON: {exc}"
        return False
    if not isinstance(doc, dict):
        errors[i] = "not a JSON object"
        return False
    # Raw line breaks in JSON are whitespace between tokens (strings escape them): blank them.
    lines[i] = lines[i].replace(b"\n", b" ").replace(b"\r", b" ")
    return True


DECODERS = {"json": _decode_json, "text": _decode_text, "bytes": _decode_bytes}
