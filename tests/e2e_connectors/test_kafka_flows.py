"""Kafka to Kafka through the run manager: exact counts, server restarts mid-stream (graceful
and crash), and two instances of a flow sharing one consumer group."""

from __future__ import annotations

import asyncio
import itertools
import signal
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.e2e_connectors.support import (
    Api,
    Producer,
    TopicReader,
    eventually,
    kafka_pipeline,
    unique,
)
from tests.server import ServerProcess

PARTITIONS = 4


def kept(numbers: range) -> list[int]:
    return [n for n in numbers if n % 3]


def numbers(reader: TopicReader) -> list[int]:
    return [v["n"] for v in reader.values()]


async def quiet(seconds: float = 1.0) -> None:
    """Give late (duplicate) records time to show up before counting exactly."""
    await asyncio.sleep(seconds)


@pytest.fixture
def server(tmp_path) -> Iterator[ServerProcess]:
    """`dataflow serve` in a process of its own, checkpointing every 0.3 s."""
    proc = ServerProcess(tmp_path / "data", env={"DATAFLOW_OFFSETS_REPORT_SECONDS": "0.3"})
    yield proc.start()
    proc.stop(signal.SIGKILL)


@pytest.fixture
def server_api(server) -> Iterator[Api]:
    with server.client(timeout=30) as client:
        yield Api(client)


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
async def test_kafka_flow_counts_exactly_and_survives_a_server_restart(
    kafka_broker, server, server_api, how
):
    bootstrap = kafka_broker.bootstrap
    source = await kafka_broker.create_topic(unique("in"), PARTITIONS)
    target = await kafka_broker.create_topic(unique("out"), PARTITIONS)
    doc = kafka_pipeline("kafka-pipe", bootstrap, source, target, unique("pipe"))
    api = server_api
    api.create(doc)
    run_id = api.start("kafka-pipe")["run_id"]
    watch = api.watch("kafka-pipe")

    async with (
        Producer(bootstrap) as producer,
        TopicReader(bootstrap, target, PARTITIONS) as reader,
    ):
        # Phase 1: N records in, exactly the matching ones out.
        await producer.send(source, [{"n": n} for n in range(300)], key="n")
        await reader.until(len(kept(range(300))), watch=watch)
        await quiet()
        assert sorted(numbers(reader)) == kept(range(300))
        for v in reader.values():  # the select's columns, the input partition among them
            assert v == {
                "n": v["n"],
                "label": f"item-{v['n']}",
                "partition": v["partition"],
                "instance": "a",
            }
            assert v["partition"] in range(PARTITIONS)
        assert api.node_metrics("kafka-pipe", "keep")["discarded_records"] == 100

        # Phase 2: the server stops while records keep coming.
        async def produce_more() -> None:
            for start in range(300, 1200, 30):
                await producer.send(source, [{"n": n} for n in range(start, start + 30)], key="n")
                await asyncio.sleep(0.1)

        producing = asyncio.create_task(produce_more())
        await reader.until(len(kept(range(300))) + 60, watch=watch)  # mid-stream
        # Phase 1 is behind a journaled checkpoint (next offsets per partition add up to the
        # records read): whatever comes twice after a crash is from phase 2.
        await eventually(
            lambda: sum(api.run("kafka-pipe")["offsets"].get("src", {}).values()) >= 300,
            "a checkpoint past phase 1",
            watch=watch,
        )
        signum = signal.SIGTERM if how == "sigterm" else signal.SIGKILL
        await asyncio.to_thread(server.stop, signum)
        await asyncio.to_thread(server.start)
        run = api.run("kafka-pipe")
        assert (run["state"], run["run_id"]) == ("running", run_id)  # the same run, resumed
        await producing

        expected = kept(range(1200))
        await eventually(
            lambda: set(numbers(reader)) >= set(expected),
            "every record after the restart",
            timeout=40,
            watch=watch,
        )
        await quiet()

    types = api.event_types("kafka-pipe")
    assert "RunRecovered" in types
    got = numbers(reader)
    assert set(got) == set(expected)  # nothing lost
    duplicates = {n: c for n, c in Counter(got).items() if c > 1}
    if how == "sigterm":
        # docs/operations.md: a graceful stop drains and journals exact offsets, and "the next
        # start resumes them exactly".
        assert "RunInterrupted" in types
        assert duplicates == {}
    else:
        # A crash resumes from the last checkpoint: records after it may come twice.
        assert all(n >= 300 for n in duplicates), duplicates  # only after the checkpoint
    assert api.stop("kafka-pipe")["state"] == "stopped"


async def test_two_flows_in_one_group_split_the_partitions(kafka_broker, api):
    bootstrap = kafka_broker.bootstrap
    source = await kafka_broker.create_topic(unique("in"), PARTITIONS)
    target = await kafka_broker.create_topic(unique("out"), PARTITIONS)
    group = unique("split")
    flows = ("split-a", "split-b")
    for flow_id, instance in zip(flows, "ab", strict=True):
        api.create(kafka_pipeline(flow_id, bootstrap, source, target, group, instance))
    for flow_id in flows:  # together, so that both join the group's first generation
        api.start(flow_id)
    watch = api.watch(*flows)

    async with (
        Producer(bootstrap) as producer,
        TopicReader(bootstrap, target, PARTITIONS) as reader,
    ):
        # Probes (n far above the real records) into every partition until both flows read
        # some: the group has split the partitions between them.
        probes = itertools.count(1_000_000)

        async def both_reading() -> bool:
            await producer.send(
                source, [{"n": next(probes)} for _ in range(PARTITIONS)], partition=lambda i: i
            )
            await asyncio.sleep(0.3)
            return all(api.records_out(f, "src") for f in flows)

        await eventually(both_reading, "both flows reading", timeout=30, watch=watch)

        # Steady state: every record exactly once, each partition read by one of them.
        await producer.send(
            source, [{"n": n} for n in range(600)], partition=lambda i: i % PARTITIONS
        )
        expected = kept(range(600))
        await eventually(lambda: set(numbers(reader)) >= set(expected), "every record", watch=watch)
        await quiet()
    real = [v for v in reader.values() if v["n"] < 1_000_000]
    assert sorted(v["n"] for v in real) == expected  # exactly once
    partitions = {i: {v["partition"] for v in real if v["instance"] == i} for i in "ab"}
    assert partitions["a"] and partitions["b"]
    assert not partitions["a"] & partitions["b"]
    assert partitions["a"] | partitions["b"] == set(range(PARTITIONS))
    for flow_id in flows:
        assert api.stop(flow_id)["state"] == "stopped"
