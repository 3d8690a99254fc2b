"""Checkpoints of running flows reach the outside world: files published, offsets journaled
and acknowledged upstream (Redis XACK, Kafka offset commit): an idle source does not hold a
checkpoint up, and a graceful stop acknowledges its final offsets before closing."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from litestar.testing import TestClient

from dataflow.api import create_app
from tests.auth import sign_in
from tests.e2e_connectors.support import (
    Api,
    Producer,
    TopicReader,
    eventually,
    jsonl_rows,
    kafka_pipeline,
    unique,
)


async def test_an_idle_source_still_checkpoints(redis_client, redis_prefix, tmp_path, api):
    stream = f"{redis_prefix}idle"
    ids = [await redis_client.xadd(stream, {"n": n}) for n in range(10)]
    doc = {
        "id": "idle",
        "name": "idle",
        "nodes": [
            {"id": "src", "type": "redis_stream", "config": {"stream": stream, "block_ms": 100}},
            {"id": "out", "type": "write_file", "config": {"directory": str(tmp_path / "out")}},
        ],
        "edges": [{"id": "e1", "source": "src", "target": "out"}],
    }
    api.create(doc)
    api.start("idle")
    await eventually(lambda: api.records_in("idle", "out") == 10, "10 entries written")

    async def checkpointed() -> bool:
        pending = (await redis_client.xpending(stream, "dataflow"))["pending"]
        return (
            api.run("idle")["offsets"] == {"src": ids[-1]}  # journaled: where a restart resumes
            and len(jsonl_rows(tmp_path / "out")) == 10
            and pending == 0
        )

    try:
        # Fifteen checkpoint intervals with nothing new to read.
        await eventually(checkpointed, "a checkpoint of the written entries", timeout=3)
    finally:
        assert api.stop("idle")["state"] == "stopped"


@pytest.fixture
def api_without_checkpoints(settings) -> Iterator[Api]:
    """The app with no periodic checkpoint during the test: the stop's drain is the only
    moment offsets can reach Kafka."""
    settings = msgspec.structs.replace(settings, offsets_report_seconds=3600)
    with TestClient(app=create_app(settings), timeout=60) as client:
        sign_in(client)
        yield Api(client)


async def test_a_graceful_stop_commits_the_drained_offsets_to_kafka(
    kafka_broker, api_without_checkpoints
):
    api = api_without_checkpoints
    bootstrap = kafka_broker.bootstrap
    source = await kafka_broker.create_topic(unique("in"), 4)
    target = await kafka_broker.create_topic(unique("out"), 4)
    group = unique("stop")
    api.create(kafka_pipeline("stop-commit", bootstrap, source, target, group))
    api.start("stop-commit")
    async with Producer(bootstrap) as producer, TopicReader(bootstrap, target, 4) as reader:
        await producer.send(source, [{"n": n} for n in range(300)], key="n")
        await reader.until(200, watch=api.watch("stop-commit"))
    assert api.stop("stop-commit")["state"] == "stopped"
    journaled = api.run("stop-commit")["offsets"]["src"]
    assert sum(journaled.values()) == 300  # drained: the journal has the exact end

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        committed = {
            f"{source}:{p}": await consumer.committed(TopicPartition(source, p)) for p in range(4)
        }
    finally:
        await consumer.stop()
    # Where the next run of the flow (or another member of the group) starts from.
    assert committed == journaled
