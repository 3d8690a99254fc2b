"""dataflow.testing: what processor tests, plugin authors and docs examples rely on."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pytest

from dataflow.processor import ProcessorConfig, ProcessorSpec, Sink
from dataflow.testing import (
    ListSink,
    ListSource,
    registry_with,
    run_flow,
    run_sink,
    run_source,
    run_transform,
    to_batches,
)
from dataflow_processors.filter import Filter


def test_run_transform_calls_the_processor_directly():
    out = run_transform(Filter, {"condition": "amount > 100"}, [{"amount": 5}, {"amount": 500}])
    assert out == {"matched": [{"amount": 500}], "unmatched": [{"amount": 5}]}


async def test_run_transform_works_inside_a_running_loop():
    out = run_transform(Filter, {"condition": "a = 1"}, [{"a": 1}, {"a": 2}], batch_size=1)
    assert out == {"matched": [{"a": 1}], "unmatched": [{"a": 2}]}


def test_run_source_with_limit_and_offset():
    config = {"rows": [{"i": i} for i in range(10)], "batch_size": 4}
    assert run_source(ListSource, config) == [{"i": i} for i in range(10)]
    assert run_source(ListSource, config, limit=5) == [{"i": i} for i in range(5)]
    assert run_source(ListSource, config, offset=7) == [{"i": 7}, {"i": 8}, {"i": 9}]


def test_list_source_emits_given_batches_as_they_are():
    batches = [pa.record_batch({"x": [1, 2]}), pa.record_batch({"x": [3]})]
    assert run_source(ListSource, {"batches": batches, "repeat": 2}) == [
        {"x": x} for x in (1, 2, 3, 1, 2, 3)
    ]


class Picky(Sink[ProcessorConfig]):
    spec = ProcessorSpec(name="picky", category="sink", summary="t", inputs=("in",))

    def write(self, batch: pa.RecordBatch) -> Mapping[str, pa.RecordBatch] | None:
        return {"failure": batch.filter(pa.compute.less(batch.column("a"), 0))}


def test_run_sink_returns_what_the_sink_rejected():
    assert run_sink(Picky, {}, [{"a": 1}, {"a": -1}]) == {"failure": [{"a": -1}]}
    assert run_sink(ListSink, {}, [{"a": 1}]) == {}


def test_to_batches_takes_rows_batches_and_tables():
    assert [b.num_rows for b in to_batches([{"a": i} for i in range(5)], 2)] == [2, 2, 1]
    batch = pa.record_batch({"a": [1, 2, 3]})
    assert to_batches(batch)[0] is batch
    assert [b.num_rows for b in to_batches(pa.Table.from_batches([batch, batch]))] == [3, 3]
    assert to_batches([]) == []


def test_registry_with_holds_the_list_processors_and_the_given_ones():
    assert registry_with(Filter).names() == ["filter", "list_sink", "list_source"]


async def test_run_flow_from_a_dict(capacity):
    result = await run_flow(
        {
            "nodes": [
                {"id": "in", "type": "list_source", "config": {"rows": [{"a": 1}, {"a": 2}]}},
                {"id": "keep", "type": "filter", "config": {"condition": "a > 1"}},
                {"id": "out", "type": "list_sink"},
            ],
            "edges": [
                {"id": "e1", "source": "in", "target": "keep"},
                {"id": "e2", "source": "keep", "source_port": "matched", "target": "out"},
            ],
        },
        registry_with(Filter),
        queue_capacity=capacity,
    )
    assert result.state == "completed"
    assert result.outputs == {"out": [{"a": 2}]}
    assert result.metrics.edges["e1"].max_batches == capacity
    assert result.offsets == {"in": 2}


async def test_run_flow_times_out_on_a_flow_that_never_ends():
    flow = {
        "nodes": [
            {"id": "in", "type": "list_source", "config": {"rows": [{"a": 1}], "repeat": 0}},
            {"id": "out", "type": "list_sink"},
        ],
        "edges": [{"id": "e1", "source": "in", "target": "out"}],
    }
    with pytest.raises(TimeoutError, match=r"did not finish within 0\.2s"):
        await run_flow(flow, registry_with(), timeout=0.2)
