"""kafka_consume and kafka_publish against a real Kafka-protocol broker (Tansu, in memory)."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Iterable
from typing import Any

import msgspec
import pyarrow as pa
import pytest
from aiokafka import AIOKafkaProducer

from dataflow.processor import Context, Processor, SchemaError
from dataflow_processors.kafka_consume import KafkaConsume
from dataflow_processors.kafka_publish import KafkaPublish
from tests.kafka_broker import KafkaBroker, free_port

# Tansu hands a group its partitions after half the session timeout: keep it short.
GROUP = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 1000, "linger_ms": 50}
_ids = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}-{next(_ids)}"


def make(cls: type[Processor], config: dict[str, Any]) -> Any:
    return cls(cls.parse_config(config), Context(node_id="k"))


def consumer(broker: KafkaBroker, group: str, **config: Any) -> KafkaConsume:
    base = {"bootstrap_servers": broker.bootstrap, "group_id": group, "start_from": "earliest"}
    return make(KafkaConsume, {**base, **GROUP, **config})


async def publish(broker: KafkaBroker, rows: list[dict], **config: Any) -> Any:
    # Tansu has no idempotent producer.
    config = {"bootstrap_servers": broker.bootstrap, **config, "enable_idempotence": False}
    sink = make(KafkaPublish, config)
    await sink.open()
    try:
        return await sink.write_async(pa.RecordBatch.from_pylist(rows))
    finally:
        await sink.close()


async def produce_raw(broker: KafkaBroker, topic: str, values: Iterable[bytes | None]) -> None:
    """Raw values in one record batch, so that a consumer fetches them together."""
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        batch = producer.create_batch()
        for value in values:
            batch.append(key=b"k", value=value, timestamp=None)
        await (await producer.send_batch(batch, topic, partition=0))
    finally:
        await producer.stop()


async def pull(source: KafkaConsume, count: int | None, within: float = 20) -> dict[str, list]:
    """Rows per port until `count` rows came (None: whatever comes `within` seconds)."""
    out: dict[str, list] = {}
    stream = source.batches()

    async def drain() -> None:
        async for item in stream:
            port, batch = item if isinstance(item, tuple) else ("out", item)
            out.setdefault(port, []).extend(batch.to_pylist())
            if count is not None and sum(map(len, out.values())) >= count:
                return

    try:
        await asyncio.wait_for(drain(), within)
    except TimeoutError:
        if count is not None:
            raise
    finally:
        await stream.aclose()
    return out


async def read(source: KafkaConsume, count: int | None, within: float = 20) -> dict[str, list]:
    await source.open()
    try:
        return await pull(source, count, within)
    finally:
        await source.close()


# -- values and metadata ---------------------------------------------------------------------
async def test_json_round_trip_with_metadata(kafka_broker):
    topic = await kafka_broker.create_topic(unique("orders"), partitions=3)
    rows = [
        {
            "id": i,
            "status": ["paid", "open"][i % 2],
            "amount": i * 1.25,
            "ok": i % 3 == 0,
            "tags": ["a", "b"][: i % 3],
            "customer": {"name": f"c{i}", "vip": None},
        }
        for i in range(500)
    ]
    before = time.time()
    await publish(
        kafka_broker,
        rows,
        topic=topic,
        key_column="id",
        header_columns=["status"],
        headers={"source": "test"},
    )
    after = time.time()

    source = consumer(
        kafka_broker,
        unique("g"),
        topics=[topic],
        metadata=["key", "topic", "partition", "offset", "timestamp", "headers"],
    )
    got = sorted((await read(source, 500))["out"], key=lambda r: r["id"])

    assert [{k: r[k] for k in rows[0]} for r in got] == rows
    assert [r["kafka_key"] for r in got] == [str(i) for i in range(500)]
    assert {r["kafka_topic"] for r in got} == {topic}
    by_partition: dict[int, list[int]] = {}
    for r in got:
        by_partition.setdefault(r["kafka_partition"], []).append(r["kafka_offset"])
    assert set(by_partition) == {0, 1, 2}  # keys spread over the partitions
    assert all(sorted(offsets) == list(range(len(offsets))) for offsets in by_partition.values())
    assert all(before - 1 <= r["kafka_timestamp"].timestamp() <= after + 1 for r in got)
    assert got[1]["kafka_headers"] == [("status", b"open"), ("source", b"test")]


async def test_publish_topic_column_value_columns_and_failures(kafka_broker):
    prefix = unique("region")
    rows = [
        {"id": i, "amount": float(i), "region": [f"{prefix}-eu", f"{prefix}-us", None][i % 3]}
        for i in range(30)
    ]
    failed = await publish(
        kafka_broker, rows, topic_column="region", value_columns=["id", "amount"], on_error="route"
    )

    assert failed["failure"].to_pylist() == [
        {**r, "error": 'ValueError: topic column "region" is null'}
        for r in rows
        if r["region"] is None
    ]
    source = consumer(kafka_broker, unique("g"), pattern=f"^{prefix}-", metadata=["topic"])
    got = (await read(source, 20))["out"]
    assert sorted(got, key=lambda r: r["id"]) == [
        {"id": r["id"], "amount": r["amount"], "kafka_topic": r["region"]}
        for r in rows
        if r["region"] is not None
    ]


async def test_text_and_bytes_formats(kafka_broker):
    topic = await kafka_broker.create_topic(unique("lines"))
    values = [b"hello", "h\u00e9llo".encode(), b"\xff\xfe", None]
    await produce_raw(kafka_broker, topic, values)

    text, raw = await asyncio.gather(
        read(consumer(kafka_broker, unique("g"), topics=[topic], value_format="text"), 4),
        read(consumer(kafka_broker, unique("g"), topics=[topic], value_format="bytes"), 4),
    )
    assert text["out"] == [{"value": "hello"}, {"value": "h\u00e9llo"}, {"value": None}]
    assert text["failure"] == [
        {
            "kafka_topic": topic,
            "kafka_partition": 0,
            "kafka_offset": 2,
            "value": b"\xff\xfe",
            "error": "value is not valid UTF-8 (invalid start byte at byte 0)",
        }
    ]
    assert raw == {"out": [{"value": v} for v in values]}


async def test_bad_json_goes_to_failure_port_or_stops_the_run(kafka_broker):
    topic = await kafka_broker.create_topic(unique("json"))
    values = [
        b'{"id": 1, "a": 1}',
        b"nope",
        b"[1, 2]",
        b"",
        b'{\n  "id": 2,\n  "a": 2\n}',  # pretty-printed: fine
        b'{"id": 3, "a": "x"}',  # `a` was a number in the rows before
        None,  # a tombstone: a row of nulls
        b'{"id": 4}{"id": 5}',
        b'{"id": 6, "a": 6}',
    ]
    await produce_raw(kafka_broker, topic, values)

    routed, failing = await asyncio.gather(
        read(consumer(kafka_broker, unique("g"), topics=[topic]), 9),
        read(consumer(kafka_broker, unique("g"), topics=[topic], on_error="fail"), 9),
        return_exceptions=True,
    )
    assert routed["out"] == [
        {"id": 1, "a": 1},
        {"id": 2, "a": 2},
        {"id": None, "a": None},
        {"id": 6, "a": 6},
    ]
    failures = {r["kafka_offset"]: r for r in routed["failure"]}
    assert {offset: r["value"] for offset, r in failures.items()} == {
        i: values[i] for i in (1, 2, 3, 5, 7)
    }
    reasons = {offset: r["error"] for offset, r in failures.items()}
    assert reasons[1].startswith("invalid JSON: JSON is malformed: invalid character")
    assert reasons[2] == "not a JSON object"
    assert reasons[3] == "invalid JSON: Input data was truncated"
    assert reasons[5] == "JSON parse error: Column(/a) changed from number to string"
    assert reasons[7].startswith("invalid JSON: JSON is malformed: trailing characters")
    assert isinstance(failing, ValueError)
    assert str(failing).startswith(f"record at {topic}:0 offset 1: invalid JSON")


# -- offsets ---------------------------------------------------------------------------------
async def test_restore_resumes_without_loss_or_duplicates(kafka_broker):
    topic = await kafka_broker.create_topic(unique("resume"), partitions=3)
    await publish(kafka_broker, [{"id": i} for i in range(300)], topic=topic)

    first = consumer(kafka_broker, unique("g"), topics=[topic], batch_size=40)
    part = (await read(first, 100))["out"]
    offset = first.offset()
    assert set(offset) <= {f"{topic}:{p}" for p in range(3)}
    assert sum(offset.values()) == len(part)  # every partition starts at 0

    # Another group, so that only the restored offset (not Kafka's) says where to resume.
    second = consumer(kafka_broker, unique("g"), topics=[topic])
    second.restore(offset)
    await second.open()
    try:
        rest = (await pull(second, 300 - len(part)))["out"]
        extra = await pull(second, None, within=1)
    finally:
        await second.close()
    assert sorted(r["id"] for r in part + rest) == list(range(300))
    assert extra == {}


async def test_offsets_reach_kafka_only_through_commit(kafka_broker):
    topic = await kafka_broker.create_topic(unique("commit"))
    group = unique("g")
    await publish(kafka_broker, [{"id": i} for i in range(20)], topic=topic)

    # Read but never committed: the group sees the records again.
    uncommitted = (
        await read(consumer(kafka_broker, group, topics=[topic], start_from="committed"), 20)
    )["out"]
    again = consumer(kafka_broker, group, topics=[topic], start_from="committed")
    await again.open()
    try:
        assert (await pull(again, 20))["out"] == uncommitted
        await again.commit(again.offset())
    finally:
        await again.close()

    await publish(kafka_broker, [{"id": i} for i in range(20, 25)], topic=topic)
    later = consumer(kafka_broker, group, topics=[topic], start_from="committed")
    await later.open()
    try:
        assert (await pull(later, 5))["out"] == [{"id": i} for i in range(20, 25)]
        assert await pull(later, None, within=1) == {}
    finally:
        await later.close()


async def test_start_from_latest_skips_what_is_there(kafka_broker):
    topic = await kafka_broker.create_topic(unique("latest"))
    await publish(kafka_broker, [{"id": 0}], topic=topic)
    source = consumer(kafka_broker, unique("g"), topics=[topic], start_from="latest")
    await source.open()
    try:
        reading = asyncio.create_task(pull(source, 1))
        await wait_until(lambda: source.assignment, "an assignment")
        await publish(kafka_broker, [{"id": 1}], topic=topic)
        assert (await reading)["out"] == [{"id": 1}]
    finally:
        await source.close()


async def test_two_instances_in_a_group_split_the_partitions(kafka_broker):
    topic = await kafka_broker.create_topic(unique("split"), partitions=4)
    group = unique("g")
    a = consumer(kafka_broker, group, topics=[topic])
    b = consumer(kafka_broker, group, topics=[topic])
    await asyncio.gather(a.open(), b.open())
    try:
        everything = {f"{topic}:{p}" for p in range(4)}
        await wait_until(
            lambda: (
                a.assignment
                and b.assignment
                and set(a.assignment) | set(b.assignment) == everything
                and not set(a.assignment) & set(b.assignment)
            ),
            "a split assignment",
        )
        await publish(kafka_broker, [{"id": i} for i in range(400)], topic=topic)
        got_a, got_b = await asyncio.gather(pull(a, None, within=4), pull(b, None, within=4))
    finally:
        await asyncio.gather(a.close(), b.close())
    ids_a = [r["id"] for r in got_a.get("out", [])]
    ids_b = [r["id"] for r in got_b.get("out", [])]
    assert ids_a and ids_b
    assert sorted(ids_a + ids_b) == list(range(400))


# -- outages ---------------------------------------------------------------------------------
async def test_consumer_and_producer_survive_a_broker_restart(kafka_broker):
    # Tansu keeps everything in memory: after the restart the topic comes back empty, created
    # on first use with 4 partitions, hence 4 here too and nothing read before the outage (a
    # real broker keeps topics, records and committed offsets).
    topic = await kafka_broker.create_topic(unique("restart"), partitions=4)
    sink = make(
        KafkaPublish,
        {
            "bootstrap_servers": kafka_broker.bootstrap,
            "topic": topic,
            "enable_idempotence": False,
            "retry_backoff_seconds": 0.2,
        },
    )
    source = consumer(kafka_broker, unique("g"), topics=[topic])
    await asyncio.gather(sink.open(), source.open())
    try:
        reading = asyncio.create_task(pull(source, 20, within=40))  # a consumer mid-read
        await wait_until(lambda: len(source.assignment) == 4, "assignment")
        await asyncio.to_thread(kafka_broker.stop)
        batch = pa.RecordBatch.from_pylist([{"id": i} for i in range(20)])
        writing = asyncio.create_task(sink.write_async(batch))  # and a producer mid-write
        await asyncio.sleep(1)
        await asyncio.to_thread(kafka_broker.start)
        assert await asyncio.wait_for(writing, 30) is None  # every record acknowledged
        assert sorted(r["id"] for r in (await reading)["out"]) == list(range(20))
    finally:
        await asyncio.gather(sink.close(), source.close())


async def test_unreachable_broker_gives_a_clear_error():
    servers = f"127.0.0.1:{free_port()}"  # nothing listens there
    fast = {"connect_timeout_seconds": 1, "retry_backoff_seconds": 0.1}
    source = make(
        KafkaConsume, {"bootstrap_servers": servers, "topics": ["t"], "group_id": "g", **fast}
    )
    sink = make(KafkaPublish, {"bootstrap_servers": servers, "topic": "t", **fast})
    for processor in (source, sink):
        with pytest.raises(ConnectionError, match=f"cannot reach Kafka at {servers} within 1 s"):
            await processor.open()


# -- configuration ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "config", "message"),
    [
        (KafkaConsume, {"group_id": "g"}, "set either topics or pattern"),
        (KafkaConsume, {"group_id": "g", "topics": ["t"], "pattern": "t"}, "either topics"),
        (KafkaConsume, {"group_id": "g", "pattern": "("}, "pattern: missing )"),
        (
            KafkaConsume,
            {"group_id": "g", "topics": ["t"], "heartbeat_interval_ms": 20_000},
            "heartbeat_interval_ms must be below",
        ),
        (KafkaPublish, {}, "set either topic or topic_column"),
        (KafkaPublish, {"topic": "t", "acks": "1"}, "enable_idempotence needs acks = all"),
    ],
)
def test_invalid_configs_are_rejected(cls, config, message):
    with pytest.raises(msgspec.ValidationError, match=re.escape(message)):
        cls.parse_config({"bootstrap_servers": "localhost:9092", **config})


def test_schemas_known_before_the_run():
    sink = make(
        KafkaPublish,
        {"bootstrap_servers": "x:9092", "topic": "t", "key_column": "idd", "on_error": "route"},
    )
    schema = pa.schema([("id", pa.int64())])
    with pytest.raises(SchemaError, match='column "idd" does not exist') as err:
        sink.output_schema({"in": schema})
    assert err.value.field == "key_column"

    source = make(
        KafkaConsume,
        {
            "bootstrap_servers": "x:9092",
            "topics": ["t"],
            "group_id": "g",
            "value_format": "text",
            "metadata": ["key", "offset"],
        },
    )
    out = source.output_schema({})
    assert out["out"] == pa.schema(
        [("value", pa.string()), ("kafka_key", pa.string()), ("kafka_offset", pa.int64())]
    )
    assert out["failure"].names[-2:] == ["value", "error"]


async def wait_until(check, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout} s")
        await asyncio.sleep(0.05)
