"""stream_join: inputs joined on keys within an event-time window, buffers pruned by watermark."""

import pyarrow as pa
import pytest

from dataflow.processor import SchemaError
from dataflow_processors.stream_join import StreamJoin

ORDERS = {"key_columns": ["order_id"], "time_column": "t", "window_seconds": 10}


def make(config):
    return StreamJoin(StreamJoin.parse_config(config))


def feed(proc, steps, *, finish=True):
    """Rows emitted, step by step: a list with one list of rows per (port, rows) step."""
    out = []
    for port, rows in steps:
        result = proc.process(port, pa.RecordBatch.from_pylist(rows))
        out.append(result["out"].to_pylist() if "out" in result else [])
    if finish:
        result = proc.finish()
        out.append(result["out"].to_pylist() if "out" in result else [])
    return out


def test_inner_join_within_the_window_whatever_side_comes_first():
    steps = [
        ("left", [{"order_id": 1, "t": 100, "item": "pen"},
                  {"order_id": 2, "t": 100, "item": "ink"}]),
        ("right", [{"order_id": 1, "t": 110, "paid": 5}, {"order_id": 2, "t": 111, "paid": 7}]),
        ("right", [{"order_id": 3, "t": 120, "paid": 1}]),
        ("left", [{"order_id": 3, "t": 125, "item": "cap"},
                  {"order_id": 1, "t": 95, "item": "old"}]),
    ]  # fmt: skip
    assert feed(make(ORDERS), steps) == [
        [],
        [{"order_id": 1, "t": 100, "item": "pen", "right_t": 110, "paid": 5}],  # 2: 11 s apart
        [],
        [{"order_id": 3, "t": 125, "item": "cap", "right_t": 120, "paid": 1}],  # 1: pruned
        [],
    ]


def test_left_join_emits_unmatched_left_records_once_the_watermark_passes():
    config = {**ORDERS, "how": "left"}
    proc = make(config)
    steps = [
        ("left", [{"order_id": 1, "t": 100, "item": "pen"},
                  {"order_id": 2, "t": 100, "item": "ink"}]),
        ("right", [{"order_id": 1, "t": 104, "paid": 5}]),
        ("right", [{"order_id": 9, "t": 110, "paid": 0}]),  # watermark 110: 100 + 10 is not < 110
        ("right", [{"order_id": 9, "t": 111, "paid": 0}]),  # now it is: order 2 cannot match
        ("left", [{"order_id": 4, "t": 200, "item": "cap"},
                  {"order_id": None, "t": 201, "item": "?"}]),
    ]  # fmt: skip
    assert feed(proc, steps) == [
        [],
        [{"order_id": 1, "t": 100, "item": "pen", "right_t": 104, "paid": 5}],
        [],
        [{"order_id": 2, "t": 100, "item": "ink", "right_t": None, "paid": None}],
        [],
        [  # the end of the stream: what is still buffered, unmatched
            {"order_id": 4, "t": 200, "item": "cap", "right_t": None, "paid": None},
            {"order_id": None, "t": 201, "item": "?", "right_t": None, "paid": None},
        ],
    ]


def test_buffers_are_pruned_by_the_other_sides_watermark_with_out_of_orderness():
    proc = make({**ORDERS, "max_out_of_orderness_seconds": 5})
    feed(proc, [("left", [{"order_id": i, "t": 100 + i} for i in range(5)])], finish=False)
    feed(proc, [("right", [{"order_id": 99, "t": 115}])], finish=False)  # watermark 110
    assert proc.buffers["left"].column("order_id").to_pylist() == [0, 1, 2, 3, 4]
    feed(proc, [("right", [{"order_id": 99, "t": 118}])], finish=False)  # watermark 113
    assert proc.buffers["left"].column("order_id").to_pylist() == [3, 4]
    # A right record 5 s behind its side's latest still finds its partner.
    out = feed(proc, [("right", [{"order_id": 3, "t": 113, "x": 1}])], finish=False)
    assert out == [[{"order_id": 3, "t": 103, "right_t": 113, "x": 1}]]
    assert proc.buffers["right"].num_rows == 3  # left watermark 104 - 5: all may still match


def test_different_key_and_time_names_and_colliding_columns():
    config = {
        "key_columns": ["user", "app"],
        "right_key_columns": ["uid", "app_id"],
        "time_column": "clicked",
        "right_time_column": "shown",
        "window_seconds": 2,
        "right_prefix": "ad_",
    }
    steps = [
        ("right", [{"uid": 1, "app_id": "x", "shown": 10, "name": "ad1"},
                   {"uid": 1, "app_id": "y", "shown": 10, "name": "ad2"}]),
        ("left", [{"user": 1, "app": "x", "clicked": 12, "name": "click"}]),
    ]  # fmt: skip
    assert feed(make(config), steps) == [
        [],
        [{"user": 1, "app": "x", "clicked": 12, "name": "click", "shown": 10, "ad_name": "ad1"}],
        [],
    ]


STEPS = [
    ("left", [{"order_id": 1, "t": 0, "a": "x"}, {"order_id": 2, "t": 3, "a": "y"}]),
    ("right", [{"order_id": 1, "t": 5, "b": 1}, {"order_id": 3, "t": 6, "b": 2}]),
    ("left", [{"order_id": 3, "t": 9, "a": "z"}, {"order_id": 4, "t": 12, "a": "w"}]),
    ("right", [{"order_id": 2, "t": 14, "b": 3}, {"order_id": 1, "t": 20, "b": 4}]),
    ("left", [{"order_id": 1, "t": 24, "a": "v"}]),
    ("right", [{"order_id": 4, "t": 40, "b": 5}]),
    ("left", [{"order_id": 5, "t": 41, "a": "u"}]),
]


@pytest.mark.parametrize("how", ["inner", "left"])
@pytest.mark.parametrize("cut", [1, 3, 5])
def test_restored_state_gives_the_same_output_as_an_uninterrupted_run(how, cut):
    config = {**ORDERS, "how": how, "max_out_of_orderness_seconds": 2}
    whole = feed(make(config), STEPS)
    first = make(config)
    before = feed(first, STEPS[:cut], finish=False)
    second = make(config)
    second.restore_state(first.snapshot_state())
    assert before + feed(second, STEPS[cut:]) == whole
    assert sum(map(len, whole)) == (3 if how == "inner" else 6)


def test_state_of_other_keys_is_refused():
    proc = make(ORDERS)
    feed(proc, STEPS[:2], finish=False)
    with pytest.raises(ValueError, match="other key or time columns"):
        make({**ORDERS, "key_columns": ["a"]}).restore_state(proc.snapshot_state())


LEFT = pa.schema([("order_id", pa.int64()), ("t", pa.timestamp("ms")), ("item", pa.string())])
RIGHT = pa.schema(
    [
        ("order_id", pa.int64()),
        ("t", pa.timestamp("ms")),
        ("paid", pa.float64()),
        ("by", pa.string()),
    ]
)


def test_output_schema():
    schema = make(ORDERS).output_schema({"left": LEFT, "right": RIGHT})
    assert schema == {
        "out": pa.schema(
            [*LEFT, pa.field("right_t", pa.timestamp("ms")), RIGHT.field("paid"), RIGHT.field("by")]
        )
    }


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({**ORDERS, "key_columns": ["order_id", "item"], "right_key_columns": ["order_id", "x"]},
         "right_key_columns[1]", 'column "x" does not exist on the right input'),
        ({**ORDERS, "key_columns": ["id"]}, "key_columns[0]", '"id" does not exist on the left'),
        ({**ORDERS, "right_time_column": "by"}, "right_time_column", "must be a timestamp"),
        ({**ORDERS, "time_column": "when"}, "time_column", '"when" does not exist on the left'),
    ],
)  # fmt: skip
def test_design_time_errors_name_the_field(config, field, message):
    with pytest.raises(SchemaError, match=message) as caught:
        make(config).output_schema({"left": LEFT, "right": RIGHT})
    assert caught.value.field == field


def test_config_errors():
    with pytest.raises(Exception, match="as many columns as key_columns"):
        make({**ORDERS, "right_key_columns": ["a", "b"]})
