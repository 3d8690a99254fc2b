"""dedupe: drop records whose key passed within the TTL, by processing or event time."""

import logging

import pyarrow as pa
import pytest

from dataflow.processor import SchemaError
from dataflow.testing import run_transform
from dataflow_processors.dedupe import Dedupe

SECOND = 1_000_000  # the clock counts microseconds


class Clock:
    def __init__(self, seconds: float = 1000.0):
        self.now = seconds * SECOND

    def __call__(self) -> int:
        return int(self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds * SECOND


def make(config, clock=None):
    proc = Dedupe(Dedupe.parse_config(config))
    if clock is not None:
        proc.clock = clock
    return proc


def feed(proc, rows):
    out = proc.transform(pa.RecordBatch.from_pylist(rows))
    return {port: batch.to_pylist() for port, batch in out.items()}


def test_first_record_of_a_key_passes_the_rest_are_duplicates():
    rows = [{"id": i, "v": v} for i, v in [(1, "a"), (2, "b"), (1, "c"), (None, "d"), (None, "e")]]
    out = run_transform(Dedupe, {"key_columns": ["id"]}, rows)
    assert out == {
        "out": [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": None, "v": "d"}],
        "duplicates": [{"id": 1, "v": "c"}, {"id": None, "v": "e"}],  # null is a key too
    }


def test_keys_are_remembered_across_batches_and_made_of_every_key_column():
    proc = make({"key_columns": ["a", "b"]}, Clock())
    assert feed(proc, [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}])["duplicates"] == []
    assert feed(proc, [{"a": 1, "b": "y"}, {"a": 2, "b": "x"}]) == {
        "out": [{"a": 2, "b": "x"}],
        "duplicates": [{"a": 1, "b": "y"}],
    }


def test_processing_time_ttl_expires_keys():
    clock = Clock()
    proc = make({"key_columns": ["id"], "ttl_seconds": 10}, clock)
    assert feed(proc, [{"id": 1}])["out"] == [{"id": 1}]
    clock.advance(9.9)
    assert feed(proc, [{"id": 1}, {"id": 2}])["duplicates"] == [{"id": 1}]
    clock.advance(0.1)  # 10 s after key 1 passed: it passes again (duplicates do not extend)
    assert feed(proc, [{"id": 1}, {"id": 2}]) == {"out": [{"id": 1}], "duplicates": [{"id": 2}]}


def test_expired_keys_are_forgotten():
    clock = Clock()
    proc = make({"key_columns": ["id"], "ttl_seconds": 4}, clock)
    feed(proc, [{"id": i} for i in range(100)])
    assert len(proc.seen) == 100
    clock.advance(5)
    feed(proc, [{"id": 1000}])
    assert list(proc.seen) == [hash_of(1000)]


def hash_of(value):
    proc = make({"key_columns": ["id"]}, Clock())
    feed(proc, [{"id": value}])
    return next(iter(proc.seen))


def test_event_time_ttl_takes_each_keys_records_in_order_within_a_batch():
    rows = [
        {"id": 1, "t": 0},
        {"id": 1, "t": 5},  # within 10 s of t=0
        {"id": 2, "t": 6},
        {"id": 1, "t": 10},  # 10 s after the pass at 0: passes
        {"id": 1, "t": 12},  # within 10 s of t=10
        {"id": 1, "t": 3},  # older than the last pass: a duplicate
        {"id": 1, "t": None},  # no event time: passes, not remembered
        {"id": 1, "t": 20},
    ]
    config = {"key_columns": ["id"], "ttl_seconds": 10, "time_column": "t"}
    expected = {
        "out": [rows[0], rows[2], rows[3], rows[6], rows[7]],
        "duplicates": [rows[1], rows[4], rows[5]],
    }
    assert run_transform(Dedupe, config, rows) == expected
    assert run_transform(Dedupe, config, rows, batch_size=1) == expected


def test_more_keys_than_max_keys_forgets_the_oldest_and_warns(caplog):
    clock = Clock()
    proc = make({"key_columns": ["id"], "max_keys": 10, "ttl_seconds": 3600}, clock)
    for i in range(8):
        feed(proc, [{"id": i}])
        clock.advance(1)
    with caplog.at_level(logging.WARNING):
        feed(proc, [{"id": i} for i in range(8, 12)])
    assert len(proc.seen) == 9 and proc.evicted == 3  # down to 90% of max_keys
    assert "forgot the 3 oldest" in caplog.text
    # The newest survive: 8..11 are still duplicates; 0..2 pass again.
    out = feed(proc, [{"id": 0}, {"id": 1}, {"id": 2}, {"id": 3}, {"id": 11}])
    assert out == {"out": [{"id": 0}, {"id": 1}, {"id": 2}], "duplicates": [{"id": 3}, {"id": 11}]}


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_restored_state_gives_the_same_output_as_an_uninterrupted_run(cut):
    config = {"key_columns": ["id"], "ttl_seconds": 10, "time_column": "t"}
    batches = [
        [{"id": 1, "t": 0}, {"id": 2, "t": 1}],
        [{"id": 1, "t": 4}, {"id": 3, "t": 5}],
        [{"id": 2, "t": 12}, {"id": 1, "t": 9}],
        [{"id": 1, "t": 10}, {"id": 3, "t": 14}, {"id": 3, "t": 16}],
    ]
    whole = [feed(p, b) for p in [make(config)] for b in batches]
    first = make(config)
    before = [feed(first, b) for b in batches[:cut]]
    second = make(config)
    second.restore_state(first.snapshot_state())
    assert before + [feed(second, b) for b in batches[cut:]] == whole
    assert [len(o["duplicates"]) for o in whole] == [0, 1, 1, 1]


def test_state_of_other_key_columns_is_refused():
    proc = make({"key_columns": ["id"]}, Clock())
    feed(proc, [{"id": 1}])
    with pytest.raises(ValueError, match="other key columns"):
        make({"key_columns": ["ref"]}).restore_state(proc.snapshot_state())


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({"key_columns": ["id", "idd"]}, "key_columns[1]", 'column "idd" does not exist'),
        ({"key_columns": ["id"], "time_column": "at"}, "time_column", 'column "at" does not'),
        ({"key_columns": ["id"], "time_column": "name"}, "time_column", "must be a timestamp"),
    ],
)
def test_design_time_errors_name_the_field(config, field, message):
    schema = pa.schema([("id", pa.int64()), ("name", pa.string()), ("t", pa.timestamp("s"))])
    with pytest.raises(SchemaError, match=message) as caught:
        make(config).output_schema({"in": schema})
    assert caught.value.field == field
    ok = make({"key_columns": ["id"], "time_column": "t"}).output_schema({"in": schema})
    assert ok == {"out": schema, "duplicates": schema}
