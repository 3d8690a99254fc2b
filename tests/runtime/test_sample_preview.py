"""Data preview: each edge keeps its most recent records; `where` filters them with SQL."""

from __future__ import annotations

import asyncio

import pyarrow as pa
import pytest

from dataflow.runtime import FlowRun, RunContext, SampleColumn
from dataflow.runtime.sample import SampleRing
from dataflow.testing import registry_with


def orders(n: int) -> list[dict]:
    return [{"id": i, "status": "paid" if i % 3 == 0 else "open"} for i in range(n)]


async def finished_run(make_flow, capacity: int, n: int, sample_size: int = 200) -> FlowRun:
    flow = make_flow(
        {"src": ("list_source", {"rows": orders(n), "batch_size": 7}), "out": "list_sink"},
        ["src -> out"],
        capacity,
    )
    run = FlowRun.of(flow, registry_with(), context=RunContext(sample_size=sample_size))
    await run.start()
    assert (await asyncio.wait_for(run.wait(), 10)).state == "completed"
    return run


async def test_sample_returns_the_most_recent_records(make_flow, capacity):
    run = await finished_run(make_flow, capacity, 500, sample_size=50)
    result = run.sample("e1", limit=10)
    assert result.columns == [SampleColumn("id", "int64"), SampleColumn("status", "string")]
    assert result.rows == orders(500)[-10:]
    assert [r["id"] for r in run.sample("e1", limit=1000).rows] == list(range(450, 500))


async def test_sample_where_filters_with_sql(make_flow, capacity):
    run = await finished_run(make_flow, capacity, 30)
    result = run.sample("e1", limit=3, where="status = 'paid' AND id > 3")
    assert result.rows == [
        {"id": 21, "status": "paid"},
        {"id": 24, "status": "paid"},
        {"id": 27, "status": "paid"},
    ]


async def test_a_bad_where_names_the_problem(make_flow):
    run = await finished_run(make_flow, 64, 5)
    with pytest.raises(ValueError, match=r"invalid where condition 'stauts = 1'.*stauts") as info:
        run.sample("e1", where="stauts = 1")
    assert "sampled columns: id, status" in str(info.value)
    with pytest.raises(ValueError, match="invalid where condition"):
        run.sample("e1", where="id >")


async def test_where_cannot_reach_files(make_flow):
    run = await finished_run(make_flow, 64, 5)
    with pytest.raises(ValueError, match="disabled"):
        run.sample("e1", where="EXISTS (SELECT * FROM read_text('/etc/hostname'))")


async def test_an_unknown_edge_is_a_key_error(make_flow):
    run = await finished_run(make_flow, 64, 5)
    with pytest.raises(KeyError, match="nope"):
        run.sample("nope")


def test_the_ring_keeps_batches_not_rows():
    ring = SampleRing(5)
    batches = [pa.record_batch({"i": [3 * k, 3 * k + 1, 3 * k + 2]}) for k in range(4)]
    for batch in batches:
        ring.add(batch)
    assert list(ring._batches) == batches[2:]  # 6 rows held to cover the last 5
    assert ring.table().column("i").to_pylist() == [7, 8, 9, 10, 11]
    ring.add(pa.record_batch({"i": list(range(100))}))
    assert ring.table().column("i").to_pylist() == [95, 96, 97, 98, 99]


def test_an_empty_or_disabled_ring_samples_nothing():
    assert SampleRing(200).query(where="x > 1").rows == []
    off = SampleRing(0)
    off.add(pa.record_batch({"i": [1]}))
    assert off.query().rows == []


def test_schemas_that_differ_are_merged():
    ring = SampleRing(10)
    ring.add(pa.record_batch({"i": [1]}))
    ring.add(pa.record_batch({"i": [2], "extra": ["x"]}))
    assert ring.query().rows == [{"i": 1, "extra": None}, {"i": 2, "extra": "x"}]
