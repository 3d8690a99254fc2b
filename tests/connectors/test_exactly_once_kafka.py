"""kafka_publish's transactions (one per checkpoint, committed with it). The local Tansu broker
has no transactions: here it shows the refusals and the at-least-once path; the transaction
tests run against a real Kafka named by DATAFLOW_TEST_KAFKA (host:port), skipped otherwise."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from typing import Any

import msgspec
import pyarrow as pa
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from dataflow.processor import Context
from dataflow_processors.kafka_publish import KafkaPublish
from tests.kafka_broker import KafkaBroker, free_port

REAL_KAFKA = os.environ.get("DATAFLOW_TEST_KAFKA", "")
needs_kafka = pytest.mark.skipif(
    not REAL_KAFKA, reason="transactions need a real Kafka: set DATAFLOW_TEST_KAFKA=host:port"
)
ROWS = [{"id": i} for i in range(30)]


def sink(servers: str, tmp_path, delivery: str = "exactly_once", **config: Any) -> KafkaPublish:
    raw = {"bootstrap_servers": servers, "topic": "t", "transactional": True, **config}
    context = Context(
        flow_id="f1",
        node_id="k",
        run_id="r1",
        data_dir=tmp_path,
        delivery=delivery,  # type: ignore[arg-type]
    )
    return KafkaPublish(KafkaPublish.parse_config(raw), context)


def save_state(s: KafkaPublish, checkpoint: int) -> None:
    s.state_file.parent.mkdir(parents=True, exist_ok=True)
    state = {"checkpoint": checkpoint, "transactional_id": s.transactional_id}
    s.state_file.write_text(json.dumps({**state, "producer_id": 7, "producer_epoch": 0}))


# -- configuration and refusals ---------------------------------------------------------------
def test_transactional_needs_the_idempotent_producer():
    with pytest.raises(msgspec.ValidationError, match="transactional needs enable_idempotence"):
        KafkaPublish.parse_config(
            {
                "bootstrap_servers": "x:9092",
                "topic": "t",
                "transactional": True,
                "enable_idempotence": False,
            }
        )


async def test_exactly_once_without_transactions_fails_at_the_start(tmp_path):
    s = sink(f"127.0.0.1:{free_port()}", tmp_path, transactional=False)
    assert KafkaPublish.exactly_once
    assert "needs transactional: true" in KafkaPublish.exactly_once_problem(s.config)
    with pytest.raises(ValueError, match="node 'k': delivery exactly_once needs transactional"):
        await s.open()
    assert KafkaPublish.exactly_once_problem(sink("x:1", tmp_path).config) is None


async def test_a_broker_without_transactions_is_named_at_the_start(kafka_broker, tmp_path):
    s = sink(kafka_broker.bootstrap, tmp_path, connect_timeout_seconds=3)
    with pytest.raises(ConnectionError, match="refused a transactional producer"):
        await s.open()


async def test_at_least_once_records_show_at_once_and_the_phases_change_nothing(
    kafka_broker: KafkaBroker, tmp_path
):
    topic = await kafka_broker.create_topic(f"alo-{time.monotonic_ns()}")
    # Tansu has no idempotent producer either.
    s = sink(
        kafka_broker.bootstrap,
        tmp_path,
        delivery="at_least_once",
        topic=topic,
        transactional=False,
        enable_idempotence=False,
    )
    await s.recover_async(1)
    await s.open()
    try:
        await s.write_async(pa.RecordBatch.from_pylist(ROWS[:10]))
        await s.prepare_checkpoint_async(1)
        await s.commit_checkpoint_async(1)
        await s.write_async(pa.RecordBatch.from_pylist(ROWS[10:20]))  # no waiting for a commit
    finally:
        await s.close()
    assert sorted(await consume(kafka_broker.bootstrap, topic, 20, "read_uncommitted")) == list(
        range(20)
    )
    assert not s.state_file.exists()


# -- recovery decisions (no transaction needed to reach them) ---------------------------------
async def test_recover_leaves_a_later_transaction_to_be_aborted(tmp_path):
    s = sink(f"127.0.0.1:{free_port()}", tmp_path)  # nothing listens: no broker is asked
    save_state(s, 3)
    await s.recover_async(2)  # checkpoint 3 never committed: open()'s producer aborts it
    assert not s.state_file.exists()


async def test_recover_commits_the_committed_checkpoint_or_says_why_not(tmp_path):
    servers = f"127.0.0.1:{free_port()}"
    s = sink(servers, tmp_path, connect_timeout_seconds=1, retry_backoff_seconds=0.1)
    save_state(s, 2)
    message = re.escape(f"cannot commit Kafka transaction {s.transactional_id} of checkpoint 2")
    with pytest.raises(RuntimeError, match=f"{message} after a restart: cannot reach Kafka"):
        await s.recover_async(2)
    assert s.state_file.exists()  # kept for the next attempt


# -- transactions on a real Kafka -------------------------------------------------------------
async def consume(servers: str, topic: str, count: int | None, isolation: str) -> list[int]:
    """Ids of the records a consumer with `isolation` reads (`count`, or whatever comes in 3 s)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=servers,
        auto_offset_reset="earliest",
        isolation_level=isolation,
        enable_auto_commit=False,
    )
    await consumer.start()
    ids: list[int] = []
    try:
        deadline = time.monotonic() + (20 if count else 3)
        while time.monotonic() < deadline and (count is None or len(ids) < count):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                ids.extend(json.loads(r.value)["id"] for r in records)
    finally:
        await consumer.stop()
    return ids


async def new_topic() -> str:
    name = f"eo-{time.monotonic_ns()}"
    admin = AIOKafkaAdminClient(bootstrap_servers=REAL_KAFKA)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 2, replication_factor=1)])
    finally:
        await admin.close()
    return name


async def write(s: KafkaPublish, rows: list[dict]) -> None:
    await s.write_async(pa.RecordBatch.from_pylist(rows))


@needs_kafka
async def test_records_show_when_their_checkpoint_commits(tmp_path):
    topic = await new_topic()
    s = sink(REAL_KAFKA, tmp_path, topic=topic)
    await s.open()
    try:
        await write(s, ROWS[:10])
        await s.prepare_checkpoint_async(1)
        assert await consume(REAL_KAFKA, topic, None, "read_committed") == []
        blocked = asyncio.create_task(write(s, ROWS[10:20]))  # waits for checkpoint 1's commit
        await asyncio.sleep(0.5)
        assert not blocked.done()
        await s.commit_checkpoint_async(1)
        await blocked
        assert sorted(await consume(REAL_KAFKA, topic, 10, "read_committed")) == list(range(10))
        await s.prepare_checkpoint_async(2)
        await s.commit_checkpoint_async(2)
        await s.commit_checkpoint_async(2)  # again: nothing to do
    finally:
        await s.close()
    assert sorted(await consume(REAL_KAFKA, topic, 20, "read_committed")) == list(range(20))


@needs_kafka
async def test_crash_between_journal_commit_and_commit_checkpoint(tmp_path):
    topic = await new_topic()
    first = sink(REAL_KAFKA, tmp_path, topic=topic)
    await first.open()
    await write(first, ROWS[:10])
    await first.prepare_checkpoint_async(1)
    await first.commit_checkpoint_async(1)
    await write(first, ROWS[10:20])
    await first.prepare_checkpoint_async(2)  # the journal commits 2, then the crash
    await first.close()  # a prepared transaction is left open, as by a crash

    again = sink(REAL_KAFKA, tmp_path, topic=topic)
    await again.recover_async(2)
    await again.open()
    await again.close()
    got = await consume(REAL_KAFKA, topic, None, "read_committed")  # all there is, in 3 s
    assert sorted(got) == list(range(20))  # checkpoint 2 committed, once


@needs_kafka
async def test_crash_after_prepare_aborts_the_uncommitted_checkpoint(tmp_path):
    topic = await new_topic()
    first = sink(REAL_KAFKA, tmp_path, topic=topic)
    await first.open()
    await write(first, ROWS[:10])
    await first.prepare_checkpoint_async(1)
    await first.commit_checkpoint_async(1)
    await write(first, ROWS[10:20])
    await first.prepare_checkpoint_async(2)  # the journal never commits 2
    await first.close()

    again = sink(REAL_KAFKA, tmp_path, topic=topic)
    await again.recover_async(1)
    await again.open()  # its producer fences the old one and aborts checkpoint 2's transaction
    try:
        await write(again, ROWS[10:20])  # the replay from checkpoint 1's offsets
        await again.prepare_checkpoint_async(2)
        await again.commit_checkpoint_async(2)
    finally:
        await again.close()
    got = await consume(REAL_KAFKA, topic, None, "read_committed")  # all there is, in 3 s
    assert sorted(got) == list(range(20))  # the aborted records never show
