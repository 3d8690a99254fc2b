"""A service goes down under a running flow, then comes back: the node says so clearly, the
run keeps going, and every record arrives. Outages are a TCP proxy closing (PostgreSQL, Redis)
or the Kafka broker restarting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import TopicAlreadyExistsError
from psycopg import sql

from tests.e2e_connectors.support import (
    Producer,
    TopicReader,
    eventually,
    jsonl_rows,
    kafka_pipeline,
    unique,
)
from tests.kafka_broker import KafkaBroker


def to_files(source: dict, out: Path) -> dict:
    """A flow: one source node `src` into JSON-lines files in `out`."""
    return {
        "id": unique("outage"),
        "name": "outage",
        "nodes": [
            {"id": "src", **source},
            {"id": "out", "type": "write_file", "config": {"directory": str(out)}},
        ],
        "edges": [{"id": "e1", "source": "src", "target": "out"}],
    }


def logged(logs: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in logs.records if text in r.getMessage()]


async def test_redis_stream_source_rides_out_an_outage(
    redis_client, redis_prefix, redis_proxy, node_logs, tmp_path, api
):
    stream = f"{redis_prefix}orders"
    for n in range(100):
        await redis_client.xadd(stream, {"n": n})
    source = {
        "type": "redis_stream",
        "config": {
            "url": f"redis://127.0.0.1:{redis_proxy.port}/0",
            "stream": stream,
            "group": "e2e",
            "block_ms": 200,
            "retry_backoff_seconds": 0.1,
        },
    }
    doc = to_files(source, tmp_path / "out")
    flow_id = api.create(doc)
    api.start(flow_id)
    watch = api.watch(flow_id)
    await eventually(
        lambda: api.records_in(flow_id, "out") >= 100, "the first 100 entries", watch=watch
    )

    redis_proxy.stop()  # Redis is gone for the flow
    where = f"lost Redis at 127.0.0.1:{redis_proxy.port}/0"
    await eventually(lambda: logged(node_logs, where), f"a warning: {where}", watch=watch)
    for n in range(100, 200):  # entries keep coming meanwhile
        await redis_client.xadd(stream, {"n": n})
    await eventually(
        lambda: len(logged(node_logs, where)) >= 3, "failed reconnect attempts", watch=watch
    )
    assert api.run(flow_id)["state"] == "running"  # the source waits for Redis to come back
    # ... and the outage shows on the node, not only in the logs.
    node = api.node_metrics(flow_id, "src")
    assert node["errors"] >= 3 and where in node["last_error"]
    redis_proxy.start()

    await eventually(
        lambda: api.records_in(flow_id, "out") >= 200,
        "the entries added during the outage",
        watch=watch,
    )
    assert api.stop(flow_id)["state"] == "stopped"
    assert sorted(int(r["n"]) for r in jsonl_rows(tmp_path / "out")) == list(range(200))
    # Everything written was acknowledged: nothing left in the group's pending list.
    assert (await redis_client.xpending(stream, "e2e"))["pending"] == 0


async def test_postgres_query_source_rides_out_an_outage(
    pg, pg_schema, pg_proxy, node_logs, tmp_path, api
):
    table = sql.Identifier(pg_schema, "events")
    await pg.execute(
        sql.SQL("CREATE TABLE {} (id bigint GENERATED ALWAYS AS IDENTITY, v text)").format(table)
    )
    insert = sql.SQL("INSERT INTO {} (v) SELECT 'v' || i FROM generate_series(1, 100) i").format(
        table
    )
    await pg.execute(insert)
    source = {
        "type": "postgres_query",
        "config": {
            "dsn": f"postgresql://postgres@127.0.0.1:{pg_proxy.port}/test",
            "query": f'SELECT id, v FROM "{pg_schema}".events',
            "mode": "schedule",
            "interval_seconds": 0.2,
            "tracking_column": "id",
            "retry_backoff_seconds": 0.1,
        },
    }
    flow_id = api.create(to_files(source, tmp_path / "out"))
    api.start(flow_id)
    watch = api.watch(flow_id)
    await eventually(
        lambda: api.records_in(flow_id, "out") >= 100, "the first 100 rows", watch=watch
    )

    pg_proxy.stop()
    where = f"PostgreSQL at 127.0.0.1:{pg_proxy.port}/test"
    await eventually(lambda: logged(node_logs, where), f"a warning naming {where}", watch=watch)
    await pg.execute(insert)  # rows keep coming meanwhile
    await eventually(
        lambda: len(logged(node_logs, where)) >= 3, "failed reconnect attempts", watch=watch
    )
    assert api.run(flow_id)["state"] == "running"  # the source waits for the server to return
    node = api.node_metrics(flow_id, "src")
    assert node["errors"] >= 3 and where in node["last_error"]
    pg_proxy.start()

    await eventually(
        lambda: api.records_in(flow_id, "out") >= 200,
        "the rows added during the outage",
        watch=watch,
    )
    assert api.stop(flow_id)["state"] == "stopped"
    # Resumed after the last row emitted: each row exactly once.
    assert sorted(r["id"] for r in jsonl_rows(tmp_path / "out")) == list(range(1, 201))


async def test_postgres_write_sink_retries_through_an_outage(pg, pg_schema, pg_proxy, api):
    doc = {
        "id": "to-postgres",
        "name": "to-postgres",
        "nodes": [
            {
                "id": "gen",
                "type": "generate",
                "config": {
                    "count": 1500,
                    "rate": 600,
                    "batch_size": 50,
                    "columns": [
                        {"kind": "sequence", "name": "n"},
                        {"kind": "int", "name": "v", "min": 0, "max": 9},
                    ],
                },
            },
            {
                "id": "sink",
                "type": "postgres_write",
                "config": {
                    "dsn": f"postgresql://postgres@127.0.0.1:{pg_proxy.port}/test",
                    "table": f"{pg_schema}.numbers",
                    "mode": "upsert",  # a batch replayed after a failure updates its rows
                    "key_columns": ["n"],
                    "create_table": True,
                    "on_error": "retry",
                    "max_retries": 10,
                    "retry_backoff_seconds": 0.1,
                },
            },
        ],
        "edges": [{"id": "e1", "source": "gen", "target": "sink"}],
    }
    api.create(doc)
    api.start("to-postgres")
    watch = api.watch("to-postgres")
    sink = lambda: api.node_metrics("to-postgres", "sink")  # noqa: E731
    await eventually(lambda: sink()["records_in"]["in"] >= 200, "rows written", watch=watch)

    pg_proxy.stop()
    # Two failed attempts: the batch that lost its connection, and a retry that could not
    # reconnect. The node's metrics say what is wrong and where.
    failing = await eventually(
        lambda: sink()["errors"] >= 2 and sink(), "failed attempts", watch=watch
    )
    assert f"PostgreSQL at 127.0.0.1:{pg_proxy.port}/test" in failing["last_error"]
    assert failing["retries"] >= 1
    pg_proxy.start()

    run = await eventually(
        lambda: (r := api.run("to-postgres"))["state"] != "running" and r, "the run's end"
    )
    assert run["state"] == "completed", run["error"]
    cur = await pg.execute(
        sql.SQL("SELECT count(*), min(n), max(n) FROM {}").format(
            sql.Identifier(pg_schema, "numbers")
        )
    )
    assert await cur.fetchone() == (1500, 1, 1500)


@pytest.fixture
def own_broker() -> Iterator[KafkaBroker]:
    """A broker of this test's own: restarting it forgets every topic (Tansu keeps them in
    memory), which must not touch the other tests' topics."""
    broker = KafkaBroker()
    broker.start()
    yield broker
    broker.stop()


async def test_kafka_flow_recovers_from_a_broker_restart(own_broker, api):
    bootstrap = own_broker.bootstrap
    source = await own_broker.create_topic(unique("in"), 4)
    target = await own_broker.create_topic(unique("out"), 4)
    doc = kafka_pipeline("kafka-restart", bootstrap, source, target, unique("restart"))
    api.create(doc)
    api.start("kafka-restart")
    watch = api.watch("kafka-restart")

    # Before: records into partition 0 only.
    async with Producer(bootstrap) as producer, TopicReader(bootstrap, target, 4) as reader:
        await producer.send(source, [{"n": n} for n in range(40)], partition=lambda i: 0)
        await reader.until(len([n for n in range(40) if n % 3]), watch=watch)

    await asyncio.to_thread(own_broker.restart)
    # Tansu comes back empty (a real broker keeps its logs): topics are created again, and
    # new records go to partitions 1-3 only, as partition 0's log restarts below the offset
    # the flow had read (it is reset to the start when the flow asks beyond its end).
    for topic in (source, target):
        # When the flow's clients asked for it first, it was made with 4 partitions as well.
        with contextlib.suppress(TopicAlreadyExistsError):
            await own_broker.create_topic(topic, 4)

    after = range(100, 160)
    async with Producer(bootstrap) as producer, TopicReader(bootstrap, target, 4) as reader:
        await producer.send(source, [{"n": n} for n in after], partition=lambda i: 1 + i % 3)
        await eventually(
            lambda: {v["n"] for v in reader.values()} >= {n for n in after if n % 3},
            "the records produced after the restart",
            timeout=60,
            watch=watch,
        )
    assert api.run("kafka-restart")["state"] == "running"
    assert api.stop("kafka-restart")["state"] == "stopped"


async def test_redis_entries_delivered_in_a_lost_reply_are_read_after_reconnecting(
    redis_client, redis_prefix, redis_proxy, node_logs, tmp_path, api
):
    stream = f"{redis_prefix}lost"
    for n in range(10):
        await redis_client.xadd(stream, {"n": n})
    source = {
        "type": "redis_stream",
        "config": {
            "url": f"redis://127.0.0.1:{redis_proxy.port}/0",
            "stream": stream,
            "group": "e2e",
            "block_ms": 200,
            "retry_backoff_seconds": 0.1,
        },
    }
    flow_id = api.create(to_files(source, tmp_path / "out"))
    api.start(flow_id)
    await eventually(lambda: api.records_in(flow_id, "out") >= 10, "the first entries")

    redis_proxy.stop()
    where = f"lost Redis at 127.0.0.1:{redis_proxy.port}/0"
    await eventually(lambda: logged(node_logs, where), f"a warning: {where}")
    for n in range(10, 20):
        await redis_client.xadd(stream, {"n": n})
    # The state a reply lost with the connection leaves: entries delivered to the node's
    # consumer (named after the node) that the node never received.
    lost = await redis_client.xreadgroup("e2e", "src", {stream: ">"}, count=5)
    assert len(lost[0][1]) == 5
    redis_proxy.start()
    try:
        await eventually(
            lambda: api.records_in(flow_id, "out") >= 20,
            "every entry, the lost reply's too",
            timeout=5,
        )
    finally:
        assert api.stop(flow_id)["state"] == "stopped"
