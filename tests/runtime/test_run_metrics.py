"""Metrics against known inputs: records, batches and bytes per node, port and edge."""

from __future__ import annotations

import msgspec
import pyarrow as pa

from dataflow.runtime.metrics import FlowMetrics, Rate
from dataflow.testing import registry_with, run_flow, to_batches
from dataflow_processors.filter import Filter


async def test_counts_match_the_input(make_flow, capacity):
    rows = [{"i": i, "name": f"n{i}"} for i in range(10)]
    flow = make_flow(
        {
            "src": ("list_source", {"rows": rows, "batch_size": 3}),
            "keep": ("filter", {"condition": "i % 2 = 0"}),
            "even": "list_sink",
            "odd": "list_sink",
        },
        ["src -> keep", "keep:matched -> even", "keep:unmatched -> odd"],
        capacity,
    )
    result = await run_flow(flow, registry_with(Filter))
    m = result.metrics
    batches = to_batches(rows, 3)  # 3 + 3 + 3 + 1 rows
    total_bytes = sum(b.nbytes for b in batches)

    src, keep, even = m.nodes["src"], m.nodes["keep"], m.nodes["even"]
    assert (src.records_out, src.batches_out, src.bytes_out) == ({"out": 10}, 4, total_bytes)
    assert (src.records_in, src.batches_in) == ({}, 0)
    assert (keep.records_in, keep.batches_in, keep.bytes_in) == ({"in": 10}, 4, total_bytes)
    assert keep.records_out == {"matched": 5, "unmatched": 5}
    # Batch [9] has no even row: its empty `matched` half is not sent.
    assert keep.batches_out == 3 + 4
    assert (even.records_in, even.batches_in) == ({"in": 5}, 3)
    assert m.nodes["odd"].records_in == {"in": 5}
    assert all(n.errors == 0 and n.discarded_records == 0 for n in m.nodes.values())
    assert keep.busy_seconds > 0

    e1 = m.edges["e1"]
    assert (e1.records, e1.batches, e1.bytes) == (10, 4, total_bytes)
    assert (e1.queued_batches, e1.queued_bytes, e1.fill_ratio) == (0, 0, 0.0)
    assert (e1.max_batches, e1.max_bytes) == (capacity, 64 * 1024 * 1024)
    assert (m.edges["e2"].records, m.edges["e2"].batches) == (5, 3)
    assert m.state == "completed"
    assert m.elapsed > 0


async def test_metrics_encode_as_json(make_flow):
    flow = make_flow({"src": "list_source", "out": "list_sink"}, ["src -> out"])
    result = await run_flow(flow, registry_with())
    decoded = msgspec.json.decode(msgspec.json.encode(result.metrics), type=FlowMetrics)
    assert decoded == result.metrics


def test_rate_counts_the_last_whole_seconds():
    rate = Rate(window_seconds=5)
    rate._started = 0.0
    for second in range(10):
        rate.add(100, second + 0.5)
    assert rate.per_second(10.2) == 100.0  # seconds 5..9
    assert rate.per_second(20.0) == 0.0  # nothing lately
    young = Rate(window_seconds=5)
    young._started = 100.0
    young.add(50, 100.1)
    young.add(50, 101.1)
    assert young.per_second(102.0) == 50.0  # 100 records over two seconds


def test_nbytes_is_what_arrow_reports():
    batch = pa.record_batch({"i": [1, 2, 3]})
    assert to_batches([{"i": 1}, {"i": 2}, {"i": 3}])[0].nbytes == batch.nbytes
