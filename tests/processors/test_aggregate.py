"""aggregate: running totals and event-time windows with watermarks, lateness and checkpoints."""

import re
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pyarrow as pa
import pytest

from dataflow.processor import SchemaError
from dataflow.testing import registry_with, run_flow, run_transform
from dataflow_processors.aggregate import Aggregate

COUNT = [{"function": "count"}]


def ts(seconds: float) -> datetime:
    """Window bounds of epoch-second event times: UTC timestamps."""
    return datetime.fromtimestamp(seconds, UTC)


def make(config):
    return Aggregate(Aggregate.parse_config(config))


def feed(proc, batches, *, finish=True):
    """Rows per port after each batch (and finish): [(port, rows), ...] in emission order."""
    out = []
    for rows in batches:
        for port, table in proc.transform(pa.RecordBatch.from_pylist(rows)).items():
            if table.num_rows:
                out.append((port, table.to_pylist()))
    if finish:
        for port, table in proc.finish().items():
            if table.num_rows:
                out.append((port, table.to_pylist()))
    return out


def window(start, end, **values):
    return {"window_start": ts(start), "window_end": ts(end), **values}


# -- running mode -------------------------------------------------------------------------
def test_running_updates_emit_the_touched_groups_after_each_batch():
    config = {
        "group_by": ["country"],
        "aggregations": [
            {"function": "sum", "column": "amount", "as": "total"},
            {"function": "count", "as": "n"},
        ],
    }
    batches = [
        [{"country": "FR", "amount": 10}, {"country": "US", "amount": 5}],
        [{"country": "FR", "amount": 1}],
    ]
    assert feed(make(config), batches) == [
        ("out", [{"country": "FR", "total": 10, "n": 1}, {"country": "US", "total": 5, "n": 1}]),
        ("out", [{"country": "FR", "total": 11, "n": 2}]),
    ]


def test_running_final_emits_every_group_once_at_the_end():
    config = {
        "group_by": ["country"],
        "mode": {"kind": "running", "emit": "final"},
        "aggregations": [{"function": "sum", "column": "amount"}],
    }
    rows = [{"country": c, "amount": a} for c, a in [("FR", 1), ("US", 2), ("FR", 3), (None, 4)]]
    out = run_transform(Aggregate, config, rows, batch_size=1)
    assert out == {
        "out": [
            {"country": "FR", "sum_amount": 4},
            {"country": "US", "sum_amount": 2},
            {"country": None, "sum_amount": 4},  # null is a group like any other
        ],
        "late": [],
    }


def test_every_function_over_several_batches_with_nulls():
    config = {
        "group_by": ["g"],
        "mode": {"kind": "running", "emit": "final"},
        "aggregations": [
            {"function": "sum", "column": "x"},
            {"function": "count", "column": "x"},
            {"function": "count", "as": "rows"},
            {"function": "min", "column": "x"},
            {"function": "max", "column": "name"},
            {"function": "avg", "column": "x"},
            {"function": "count_distinct", "column": "name"},
        ],
    }
    rows = [
        {"g": 1, "x": 4, "name": "b"},
        {"g": 1, "x": None, "name": "a"},
        {"g": 1, "x": 2, "name": "b"},
        {"g": 2, "x": None, "name": None},
    ]
    out = run_transform(Aggregate, config, rows, batch_size=2)["out"]
    assert out == [
        {"g": 1, "sum_x": 6, "count_x": 2, "rows": 3, "min_x": 2, "max_name": "b", "avg_x": 3.0,
         "count_distinct_name": 2},
        {"g": 2, "sum_x": None, "count_x": 0, "rows": 1, "min_x": None, "max_name": None,
         "avg_x": None, "count_distinct_name": 0},
    ]  # fmt: skip


def test_no_group_by_is_one_group():
    out = run_transform(Aggregate, {"aggregations": [{"function": "avg", "column": "x"}]},
                        [{"x": 1.0}, {"x": 2.0}, {"x": 6.0}], batch_size=2)  # fmt: skip
    assert out["out"] == [{"avg_x": 1.5}, {"avg_x": 3.0}]


def test_a_column_that_starts_all_null_takes_its_type_from_later_batches():
    aggregations = [
        {"function": "sum", "column": "x"},
        {"function": "count_distinct", "column": "x"},
    ]
    config = {
        "group_by": ["g"],
        "mode": {"kind": "running", "emit": "final"},
        "aggregations": aggregations,
    }
    first = pa.RecordBatch.from_pylist([{"g": 1, "x": None}])  # x: null type
    out = run_transform(
        Aggregate, config, [first, pa.RecordBatch.from_pylist([{"g": 1, "x": 2.5}])]
    )
    assert out["out"] == [{"g": 1, "sum_x": 2.5, "count_distinct_x": 1}]


def test_a_failed_batch_leaves_the_state_as_it_was(monkeypatch):
    proc = make(tumbling(allowed_lateness_seconds=5))
    feed(proc, [[{"t": 1, "k": "a"}]], finish=False)
    fire = proc.fire
    monkeypatch.setattr(proc, "fire", lambda merged: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        proc.transform(pa.RecordBatch.from_pylist([{"t": 12, "k": "a"}]))
    monkeypatch.setattr(proc, "fire", fire)  # on_error retry: the same batch again
    assert feed(proc, [[{"t": 12, "k": "a"}]]) == [
        ("out", [window(0, 10, k="a", count=1)]),
        ("out", [window(10, 20, k="a", count=1)]),
    ]


# -- windows, watermarks, lateness ----------------------------------------------------------
TUMBLING = {
    "group_by": ["k"],
    "aggregations": COUNT,
    "mode": {"kind": "tumbling", "time_column": "t", "window_seconds": 10},
}


def tumbling(kind: str = "tumbling", **mode) -> dict:
    """TUMBLING with other mode fields (or another kind)."""
    return {**TUMBLING, "mode": {**TUMBLING["mode"], "kind": kind, **mode}}


def test_a_window_is_emitted_when_the_watermark_reaches_its_end():
    out = feed(make(TUMBLING), [[{"t": 1, "k": "a"}, {"t": 9, "k": "a"}], [{"t": 10, "k": "b"}]],
               finish=False)  # fmt: skip
    assert out == [("out", [window(0, 10, k="a", count=2)])]


def test_late_within_allowed_lateness_updates_and_re_emits_too_late_goes_to_late():
    config = tumbling(allowed_lateness_seconds=5)
    batches = [
        [{"t": 1, "k": "a"}, {"t": 12, "k": "a"}],  # watermark 12: [0, 10) goes out
        [{"t": 8, "k": "a"}],  # late, 12 < 10 + 5: counts, [0, 10) goes out again
        [{"t": 16, "k": "a"}],  # watermark 16: [0, 10) is over (10 + 5 <= 16)
        [{"t": 3, "k": "a"}, {"t": None, "k": "a"}],  # too late; no event time
    ]
    assert feed(make(config), batches) == [
        ("out", [window(0, 10, k="a", count=1)]),
        ("out", [window(0, 10, k="a", count=2)]),
        ("late", [{"t": 3, "k": "a"}, {"t": None, "k": "a"}]),
        ("out", [window(10, 20, k="a", count=2)]),  # finish: the open window
    ]


def test_without_allowed_lateness_a_record_for_an_emitted_window_is_late():
    out = feed(make(TUMBLING), [[{"t": 11, "k": "a"}], [{"t": 2, "k": "a"}]])
    assert out == [("late", [{"t": 2, "k": "a"}]), ("out", [window(10, 20, k="a", count=1)])]


def test_out_of_orderness_holds_windows_open():
    config = tumbling(max_out_of_orderness_seconds=5)
    batches = [[{"t": 12, "k": "a"}], [{"t": 4, "k": "a"}], [{"t": 15, "k": "a"}]]
    assert feed(make(config), batches, finish=False) == [
        ("out", [window(0, 10, k="a", count=1)])  # watermark 15 - 5 = 10, after the t=4
    ]


def test_lateness_does_not_depend_on_batch_boundaries():
    rows = [{"t": 1, "k": "a"}, {"t": 12, "k": "a"}, {"t": 5, "k": "a"}, {"t": 14, "k": "a"}]
    one = run_transform(Aggregate, TUMBLING, rows)
    each = run_transform(Aggregate, TUMBLING, rows, batch_size=1)
    assert (
        one
        == each
        == {
            "out": [window(0, 10, k="a", count=1), window(10, 20, k="a", count=2)],
            "late": [{"t": 5, "k": "a"}],  # behind the watermark the row before it set
        }
    )


def test_tumbling_puts_a_record_in_one_window_sliding_in_several():
    rows = [{"t": 3, "k": "a"}, {"t": 7, "k": "a"}, {"t": 12, "k": "a"}]
    one = run_transform(Aggregate, TUMBLING, rows)["out"]
    assert one == [window(0, 10, k="a", count=2), window(10, 20, k="a", count=1)]
    sliding = tumbling("sliding", slide_seconds=5)
    assert run_transform(Aggregate, sliding, rows)["out"] == [
        window(-5, 5, k="a", count=1),
        window(0, 10, k="a", count=2),
        window(5, 15, k="a", count=2),
        window(10, 20, k="a", count=1),
    ]


def test_sliding_a_record_counts_in_its_open_windows_and_skips_closed_ones():
    config = tumbling("sliding", slide_seconds=5)
    out = feed(make(config), [[{"t": 11, "k": "a"}], [{"t": 7, "k": "a"}]])
    # Watermark 11: t=7's window [0, 10) is closed (skipped), [5, 15) is open (counts).
    assert out == [("out", [window(5, 15, k="a", count=2), window(10, 20, k="a", count=1)])]


def test_timestamps_keep_their_time_zone():
    paris = timezone(timedelta(hours=2))
    start = datetime(2024, 5, 1, 12, 0, 7, tzinfo=paris)
    rows = pa.RecordBatch.from_pylist(
        [{"t": start, "v": 1.5}],
        schema=pa.schema([("t", pa.timestamp("ms", "Europe/Paris")), ("v", pa.float64())]),
    )
    config = {**tumbling(window_seconds=60), "group_by": [],
              "aggregations": [{"function": "sum", "column": "v"}]}  # fmt: skip
    proc = make(config)
    assert proc.transform(rows)["out"].num_rows == 0
    table = proc.finish()["out"]
    assert table.schema.field("window_start").type == pa.timestamp("us", "Europe/Paris")
    (row,) = table.to_pylist()
    assert row["window_start"] == datetime(2024, 5, 1, 12, 0, tzinfo=paris)
    assert row["window_end"] - row["window_start"] == timedelta(minutes=1)
    assert row["sum_v"] == 1.5


# -- checkpoints ----------------------------------------------------------------------------
EVENTS = [
    {"t": t, "user": u, "amount": a}
    for t, u, a in [
        (1, "ann", 5.0), (3, "bob", 7.5), (12, "ann", 1.0), (4, "bob", 2.0), (9, "cid", None),
        (25, "ann", 3.0), (14, "bob", 4.0), (2, "ann", 9.0), (31, "cid", 6.0), (27, "ann", 1.0),
        (44, "bob", 2.5), (29, "ann", 8.0), (5, "bob", 1.0), (58, "ann", 1.0),
    ]
]  # fmt: skip
WINDOWED = {
    "group_by": ["user"],
    "aggregations": [
        {"function": "avg", "column": "amount"},
        {"function": "count_distinct", "column": "amount"},
        {"function": "max", "column": "t"},
    ],
    "mode": {
        "kind": "sliding",
        "time_column": "t",
        "window_seconds": 20,
        "slide_seconds": 10,
        "max_out_of_orderness_seconds": 3,
        "allowed_lateness_seconds": 8,
    },
}
RUNNING = {
    "group_by": ["user"],
    "aggregations": [
        {"function": "sum", "column": "amount"},
        {"function": "count_distinct", "column": "t"},
    ],
}


def batches_of(rows, size=2):
    return [rows[i : i + size] for i in range(0, len(rows), size)]


@pytest.mark.parametrize("config", [WINDOWED, RUNNING], ids=["windowed", "running"])
@pytest.mark.parametrize("cut", [1, 3, 5])
def test_restored_state_gives_the_same_output_as_an_uninterrupted_run(config, cut):
    batches = batches_of(EVENTS)
    whole = feed(make(config), batches)
    first = make(config)
    before = feed(first, batches[:cut], finish=False)
    saved = first.snapshot_state()
    second = make(config)
    second.restore_state(saved)
    assert before + feed(second, batches[cut:]) == whole
    assert any(port == "late" for port, _ in whole) == (config is WINDOWED)


def test_state_from_another_configuration_is_refused():
    proc = make(RUNNING)
    feed(proc, batches_of(EVENTS)[:2], finish=False)
    other = make({**RUNNING, "group_by": ["t"]})
    with pytest.raises(ValueError, match="another configuration"):
        other.restore_state(proc.snapshot_state())


def test_state_of_a_fresh_instance_restores_to_nothing():
    proc = make(WINDOWED)
    proc.restore_state(make(WINDOWED).snapshot_state())
    assert feed(proc, []) == []


# -- design time --------------------------------------------------------------------------
SCHEMA = pa.schema([("t", pa.timestamp("ms")), ("user", pa.string()), ("amount", pa.float64())])


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({"group_by": ["user", "usr"], "aggregations": COUNT}, "group_by[1]", '"usr" does not'),
        ({"aggregations": [{"function": "sum", "column": "amt"}]}, "aggregations[0].column",
         r'"amt" does not exist \(upstream columns: t, user, amount\)'),
        ({"aggregations": [{"function": "count"}, {"function": "avg", "column": "user"}]},
         "aggregations[1].column", "avg needs a number column"),
        ({**tumbling(time_column="ts"), "group_by": []}, "mode.time_column", '"ts" does not'),
        ({**tumbling(time_column="user"), "group_by": []}, "mode.time_column",
         "must be a timestamp"),
    ],
)  # fmt: skip
def test_design_time_errors_name_the_field(config, field, message):
    with pytest.raises(SchemaError, match=message) as caught:
        make(config).output_schema({"in": SCHEMA})
    assert caught.value.field == field


def test_output_schema_is_the_streams_schema():
    schemas = make(WINDOWED).output_schema({"in": SCHEMA})
    assert schemas["late"] == SCHEMA
    assert schemas["out"] == pa.schema(
        [
            ("window_start", pa.timestamp("us")),
            ("window_end", pa.timestamp("us")),
            ("user", pa.string()),
            ("avg_amount", pa.float64()),
            ("count_distinct_amount", pa.int64()),
            ("max_t", pa.timestamp("ms")),
        ]
    )
    total = [{"function": "sum", "column": "amount", "as": "total"}]
    running = make({**RUNNING, "aggregations": total}).output_schema({"in": SCHEMA})
    assert running["out"] == pa.schema([("user", pa.string()), ("total", pa.float64())])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"aggregations": [{"function": "sum"}]}, "aggregations[0].column: sum needs a column"),
        (
            {**TUMBLING, "mode": {"kind": "tumbling", "time_column": "t"}},
            "Object missing required field `window_seconds` - at `$.mode`",
        ),
        (tumbling(window_seconds=0), "Expected `float` > 0.0 - at `$.mode.window_seconds`"),
        (tumbling("sliding"), "Object missing required field `slide_seconds` - at `$.mode`"),
        (tumbling("sliding", slide_seconds=20), "must not exceed window_seconds"),
        (tumbling(emit="final"), "Object contains unknown field `emit` - at `$.mode`"),
        ({"group_by": ["n"], "aggregations": [{"function": "count", "as": "n"}]}, "'n' appears"),
        (
            {"aggregations": COUNT, "mode": {"kind": "hopping"}},
            "Invalid value 'hopping' - at `$.mode.kind`",
        ),
        ({"aggregations": COUNT, "mode": "tumbling"}, "Expected `object`, got `str` - at `$.mode`"),
    ],
)
def test_config_errors(config, message):
    with pytest.raises(msgspec.ValidationError, match=re.escape(message)):
        Aggregate.parse_config(config)


# -- through the engine ---------------------------------------------------------------------
@pytest.mark.parametrize("capacity", [1, 64])
async def test_a_flow_through_the_engine(capacity):
    rows = [{"t": t, "k": k} for t, k in [(1, "a"), (2, "b"), (8, "a"), (11, "a"), (3, "b"),
                                          (25, "b")]]  # fmt: skip
    flow = {
        "nodes": [
            {"id": "src", "type": "list_source", "config": {"rows": rows, "batch_size": 2}},
            {"id": "agg", "type": "aggregate", "config": TUMBLING},
            {"id": "windows", "type": "list_sink"},
            {"id": "late", "type": "list_sink"},
        ],
        "edges": [
            {"id": "e1", "source": "src", "target": "agg"},
            {"id": "e2", "source": "agg", "source_port": "out", "target": "windows"},
            {"id": "e3", "source": "agg", "source_port": "late", "target": "late"},
        ],
    }
    result = await run_flow(flow, registry_with(Aggregate), queue_capacity=capacity)
    assert result.state == "completed", result.error
    assert result.outputs == {
        "windows": [
            window(0, 10, k="a", count=2),
            window(0, 10, k="b", count=1),
            window(10, 20, k="a", count=1),
            window(20, 30, k="b", count=1),
        ],
        "late": [{"t": 3, "k": "b"}],
    }
