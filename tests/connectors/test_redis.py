"""redis_stream and redis_write against the real Redis: rows, acks only on commit, re-delivery
after a restart, the three write modes, key templates, clear errors, outage recovery."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

import msgspec
import pyarrow as pa
import pytest

from dataflow.processor import SchemaError
from dataflow_processors.redis_stream import RedisStream
from dataflow_processors.redis_write import RedisWrite
from tests.connectors.db_fixtures import REDIS_URL, make, pull, rows, write_all

pytest_plugins = ["tests.connectors.db_fixtures"]  # its fixtures


def stream_source(tmp_path, stream: str, **config) -> RedisStream:
    return make(
        RedisStream, {"url": REDIS_URL, "stream": stream, "block_ms": 50, **config}, tmp_path
    )


async def pending(client, stream: str, group: str = "dataflow") -> int:
    return (await client.xpending(stream, group))["pending"]


# -- redis_stream --------------------------------------------------------------------------
async def test_entries_become_rows_and_are_acked_only_on_commit(
    redis_client, redis_prefix, tmp_path
):
    stream = f"{redis_prefix}orders"
    ids = [
        await redis_client.xadd(stream, {"order_id": "1", "status": "paid"}),
        await redis_client.xadd(stream, {"order_id": "2"}),
        await redis_client.xadd(stream, {"order_id": "3", "note": "gift"}),
    ]
    source = stream_source(tmp_path, stream)
    await source.open()
    (batch,) = await pull(source, 1)
    assert batch.to_pylist() == [
        {"id": ids[0], "order_id": "1", "status": "paid", "note": None},
        {"id": ids[1], "order_id": "2", "status": None, "note": None},
        {"id": ids[2], "order_id": "3", "status": None, "note": "gift"},
    ]
    assert batch.schema.types == [pa.string()] * 4
    assert source.offset() == ids[2]
    assert await pending(redis_client, stream) == 3  # delivered, not acknowledged

    await source.commit(ids[1])  # the sinks wrote up to the second entry
    detail = await redis_client.xpending_range(stream, "dataflow", min="-", max="+", count=10)
    assert [p["message_id"] for p in detail] == [ids[2]]
    await source.commit(source.offset())
    assert await pending(redis_client, stream) == 0
    await source.close()


async def test_restart_before_commit_delivers_pending_entries_again_first(
    redis_client, redis_prefix, tmp_path
):
    stream = f"{redis_prefix}events"
    first = [await redis_client.xadd(stream, {"n": str(i)}) for i in range(3)]
    source = stream_source(tmp_path, stream, count=2, consumer="worker-1")
    await source.open()
    delivered = await pull(source, 2)
    assert [r["id"] for r in rows(delivered)] == first
    await source.close()  # crash before the checkpoint: nothing was committed

    later = await redis_client.xadd(stream, {"n": "3"})
    again = stream_source(tmp_path, stream, count=2, consumer="worker-1")
    await again.open()
    redelivered = await pull(again, 3)
    # the pending entries first (two reads of count 2), then the new one
    assert [[r["id"] for r in b.to_pylist()] for b in redelivered] == [
        first[:2],
        first[2:],
        [later],
    ]
    await again.commit(again.offset())
    assert await pending(redis_client, stream) == 0
    await again.close()


async def test_group_is_created_with_the_stream_and_may_start_at_the_end(
    redis_client, redis_prefix, tmp_path
):
    stream = f"{redis_prefix}new"
    source = stream_source(tmp_path, stream, group="g1")
    await source.open()  # MKSTREAM: the stream exists now
    assert await redis_client.exists(stream) == 1
    await source.close()

    await redis_client.xadd(stream, {"old": "1"})
    latest = stream_source(tmp_path, stream, group="g2", start_id="$", consumer="c")
    await latest.open()
    stream_iter = latest.batches()
    reading = asyncio.ensure_future(anext(stream_iter))
    await asyncio.sleep(0.1)
    new_id = await redis_client.xadd(stream, {"new": "1"})
    batch = await asyncio.wait_for(reading, 5)
    assert batch.to_pylist() == [{"id": new_id, "new": "1"}]
    await stream_iter.aclose()
    await latest.close()


async def test_stream_source_recovers_from_an_outage(
    redis_client, redis_prefix, redis_proxy, tmp_path, caplog
):
    stream = f"{redis_prefix}flaky"
    first = await redis_client.xadd(stream, {"n": "1"})
    url = f"redis://127.0.0.1:{redis_proxy.port}/0"
    source = make(
        RedisStream,
        {"url": url, "stream": stream, "block_ms": 50, "retry_backoff_seconds": 0.05},
        tmp_path,
    )
    await source.open()
    batches = source.batches()
    assert (await anext(batches)).to_pylist() == [{"id": first, "n": "1"}]

    await redis_proxy.stop()
    second = await redis_client.xadd(stream, {"n": "2"})
    with caplog.at_level(logging.WARNING):
        reading = asyncio.ensure_future(anext(batches))
        while caplog.text.count("reconnecting") < 2:  # lost, then reconnecting failed once
            await asyncio.sleep(0.02)
    assert f"lost Redis at 127.0.0.1:{redis_proxy.port}/0" in caplog.text
    assert not reading.done()

    await redis_proxy.start()
    assert (await asyncio.wait_for(reading, 10)).to_pylist() == [{"id": second, "n": "2"}]
    await source.commit(source.offset())
    assert await pending(redis_client, stream) == 0
    await batches.aclose()
    await source.close()


async def test_unreachable_or_invalid_server_is_a_clear_error(tmp_path):
    with pytest.raises(ConnectionError, match=r"cannot connect to Redis at 127\.0\.0\.1:1/0"):
        await make(RedisStream, {"url": "redis://127.0.0.1:1/0", "stream": "s"}, tmp_path).open()
    with pytest.raises(ConnectionError, match=r"cannot connect to Redis at 127\.0\.0\.1:1/2"):
        await make(RedisWrite, {"url": "redis://127.0.0.1:1/2", "key": "k"}, tmp_path).open()
    with pytest.raises(msgspec.ValidationError, match="redis://"):
        RedisStream.parse_config({"url": "http://127.0.0.1", "stream": "s"})


# -- redis_write ---------------------------------------------------------------------------
ORDERS = [
    {"order_id": 1, "status": "paid", "amount": 250.5, "at": dt.datetime(2024, 1, 1, 12)},
    {"order_id": 2, "status": None, "amount": 80.0, "at": dt.datetime(2024, 1, 2, 12)},
]


async def test_set_writes_json_per_record_with_ttl(redis_client, redis_prefix, tmp_path):
    config = {"url": REDIS_URL, "key": redis_prefix + "order:{order_id}", "ttl_seconds": 60}
    await write_all(make(RedisWrite, config, tmp_path), [ORDERS])
    assert json.loads(await redis_client.get(f"{redis_prefix}order:1")) == {
        "order_id": 1,
        "status": "paid",
        "amount": 250.5,
        "at": "2024-01-01 12:00:00",
    }
    assert json.loads(await redis_client.get(f"{redis_prefix}order:2"))["status"] is None
    assert 0 < await redis_client.ttl(f"{redis_prefix}order:2") <= 60


async def test_set_without_ttl_and_selected_columns(redis_client, redis_prefix, tmp_path):
    config = {"url": REDIS_URL, "key": redis_prefix + "{status}/{order_id}", "columns": ["amount"]}
    batch = pa.RecordBatch.from_pylist([{**ORDERS[0]}, {**ORDERS[1], "status": "open"}])
    await write_all(make(RedisWrite, config, tmp_path), [batch])
    assert await redis_client.get(f"{redis_prefix}paid/1") == '{"amount":250.5}'
    assert await redis_client.get(f"{redis_prefix}open/2") == '{"amount":80.0}'
    assert await redis_client.ttl(f"{redis_prefix}paid/1") == -1  # no expiry


async def test_hset_writes_a_hash_per_record_without_nulls(redis_client, redis_prefix, tmp_path):
    config = {
        "url": REDIS_URL,
        "mode": "hset",
        "key": redis_prefix + "o:{order_id}",
        "ttl_seconds": 30,
    }
    batch = pa.RecordBatch.from_pylist(
        [{**o, "tags": ["a", "b"] if o["order_id"] == 1 else []} for o in ORDERS]
    )
    await write_all(make(RedisWrite, config, tmp_path), [batch])
    assert await redis_client.hgetall(f"{redis_prefix}o:1") == {
        "order_id": "1",
        "status": "paid",
        "amount": "250.5",
        "at": "2024-01-01 12:00:00.000000",
        "tags": '["a","b"]',
    }
    assert await redis_client.hgetall(f"{redis_prefix}o:2") == {
        "order_id": "2",
        "amount": "80",
        "at": "2024-01-02 12:00:00.000000",
        "tags": "[]",
    }
    assert 0 < await redis_client.ttl(f"{redis_prefix}o:1") <= 30


async def test_xadd_appends_entries_and_trims(redis_client, redis_prefix, tmp_path):
    stream = f"{redis_prefix}out"
    config = {"url": REDIS_URL, "mode": "xadd", "key": stream, "columns": ["order_id", "status"]}
    await write_all(make(RedisWrite, config, tmp_path), [ORDERS, ORDERS])
    entries = await redis_client.xrange(stream)
    assert [fields for _, fields in entries] == [
        {"order_id": "1", "status": "paid"},
        {"order_id": "2"},
    ] * 2

    trimmed = {"url": REDIS_URL, "mode": "xadd", "key": f"{redis_prefix}capped", "maxlen": 10}
    batch = pa.RecordBatch.from_pydict({"order_id": list(range(1000))})
    await write_all(make(RedisWrite, trimmed, tmp_path), [batch])
    length = await redis_client.xlen(f"{redis_prefix}capped")
    assert 10 <= length < 1000  # approximate trimming: at least maxlen are kept


async def test_one_pipeline_round_trip_per_batch(redis_client, redis_prefix, tmp_path):
    sink = make(
        RedisWrite, {"url": REDIS_URL, "mode": "hset", "key": redis_prefix + "k{i}"}, tmp_path
    )
    await sink.open()
    executed = []
    client_pipeline = sink.client.pipeline

    def counting_pipeline(*args, **kwargs):
        pipe = client_pipeline(*args, **kwargs)
        real_execute = pipe.execute

        async def execute(*a, **kw):
            executed.append(len(pipe.command_stack))
            return await real_execute(*a, **kw)

        pipe.execute = execute
        return pipe

    sink.client.pipeline = counting_pipeline
    await sink.write_async(pa.RecordBatch.from_pydict({"i": list(range(5000))}))
    await sink.close()
    assert executed == [5000]
    assert await redis_client.hgetall(f"{redis_prefix}k4999") == {"i": "4999"}


def test_key_templates_and_their_errors():
    sink = RedisWrite(RedisWrite.parse_config({"key": "{{literal}}:{a}-{b}"}))
    batch = pa.RecordBatch.from_pydict({"a": [1, 2], "b": ["x", "y"]})
    assert sink._keys(batch).to_pylist() == ["{literal}:1-x", "{literal}:2-y"]
    with pytest.raises(ValueError, match=r"key: column 'b' is null in 1 record"):
        sink._keys(pa.RecordBatch.from_pydict({"a": [1, 2], "b": ["x", None]}))
    with pytest.raises(SchemaError, match=r"key: column 'b' does not exist \(upstream columns: a"):
        sink.output_schema({"in": pa.schema([("a", pa.int64())])})
    for bad in ("{a:>5}", "{}", "{a", "x}"):
        with pytest.raises(msgspec.ValidationError, match="key"):
            RedisWrite.parse_config({"key": bad})
    with pytest.raises(msgspec.ValidationError, match="maxlen: applies to xadd only"):
        RedisWrite.parse_config({"key": "k", "maxlen": 5})


async def test_missing_column_fails_the_batch_and_writes_nothing(
    redis_client, redis_prefix, tmp_path
):
    config = {"url": REDIS_URL, "key": redis_prefix + "{order_id}", "columns": ["amount", "x"]}
    with pytest.raises(ValueError, match=r"columns: column 'x' does not exist \(upstream"):
        await write_all(make(RedisWrite, config, tmp_path), [ORDERS])
    assert [k async for k in redis_client.scan_iter(match=f"{redis_prefix}*")] == []


async def test_write_fails_clearly_while_down_and_recovers(
    redis_client, redis_prefix, redis_proxy, tmp_path
):
    url = f"redis://127.0.0.1:{redis_proxy.port}/0"
    sink = make(RedisWrite, {"url": url, "key": redis_prefix + "{order_id}"}, tmp_path)
    await sink.open()
    await sink.write_async(pa.RecordBatch.from_pylist(ORDERS[:1]))
    await redis_proxy.stop()
    with pytest.raises(ConnectionError, match=f"lost Redis at 127.0.0.1:{redis_proxy.port}/0"):
        await sink.write_async(pa.RecordBatch.from_pylist(ORDERS[1:]))
    await redis_proxy.start()
    await sink.write_async(pa.RecordBatch.from_pylist(ORDERS[1:]))  # the engine's retry
    await sink.close()
    # SCAN may return a key twice while the keyspace rehashes: compare sets
    keys = {k async for k in redis_client.scan_iter(match=f"{redis_prefix}*")}
    assert keys == {f"{redis_prefix}1", f"{redis_prefix}2"}
