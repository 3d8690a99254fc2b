"""generate: deterministic synthetic records, every kind, limits and resumable offsets."""

import re
import time
import uuid
from datetime import UTC, datetime

import msgspec
import pyarrow as pa
import pytest

from dataflow_processors.generate import Generate

ALL_KINDS = [
    {"name": "id", "kind": "sequence", "start": 100, "step": 10},
    {"name": "n", "kind": "int", "min": -3, "max": 3},
    {"name": "x", "kind": "float", "min": 10, "max": 20, "decimals": 1},
    {"name": "c", "kind": "choice", "choices": ["a", "b"], "weights": [0, 1]},
    {
        "name": "t",
        "kind": "timestamp",
        "min": "2024-01-01T00:00:00Z",
        "max": "2024-01-02T00:00:00Z",
    },
    {"name": "u", "kind": "uuid"},
    {"name": "s", "kind": "string", "prefix": "k-", "min_length": 2, "max_length": 5},
]


async def test_every_kind_within_its_bounds(h):
    out = await h.run_source(h.make(Generate, {"columns": ALL_KINDS, "count": 500, "seed": 1}))
    rows = out["out"]
    assert len(rows) == 500
    assert [r["id"] for r in rows[:3]] == [100, 110, 120]
    assert {r["n"] for r in rows} == set(range(-3, 4))
    assert all(10 <= r["x"] <= 20 and round(r["x"], 1) == r["x"] for r in rows)
    assert {r["c"] for r in rows} == {"b"}  # weight 0 never drawn
    lo, hi = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    assert all(lo <= r["t"] <= hi for r in rows)
    assert all(uuid.UUID(r["u"]).version == 4 for r in rows)
    assert len({r["u"] for r in rows}) == 500
    assert all(re.fullmatch(r"k-[a-z2-7]{2,5}", r["s"]) for r in rows)


async def test_same_seed_same_records_and_schema_matches(h):
    config = {"columns": ALL_KINDS, "count": 50, "seed": 42}
    first = await h.run_source(h.make(Generate, config))
    second = await h.run_source(h.make(Generate, config))
    other = await h.run_source(h.make(Generate, {**config, "seed": 43}))
    assert first == second
    assert first != other
    schema = h.make(Generate, config).output_schema({})["out"]
    assert schema == pa.schema(
        [
            ("id", pa.int64()),
            ("n", pa.int64()),
            ("x", pa.float64()),
            ("c", pa.string()),
            ("t", pa.timestamp("us", tz="UTC")),
            ("u", pa.string()),
            ("s", pa.string()),
        ]
    )


async def test_count_and_batch_size(h):
    source = h.make(
        Generate, {"columns": [{"name": "i", "kind": "sequence"}], "count": 25, "batch_size": 10}
    )
    await source.open()
    batches = await h.pull(source)
    assert [b.num_rows for b in batches] == [10, 10, 5]
    assert source.offset() == 25


async def test_restore_continues_the_same_sequence_whatever_the_batch_size(h):
    config = {"columns": ALL_KINDS[:6], "count": 30, "seed": 9, "batch_size": 7}
    whole = (await h.run_source(h.make(Generate, config)))["out"]

    first = h.make(Generate, config)
    await first.open()
    head = h.by_port(await h.pull(first, limit=2))["out"]  # 14 records, then "crash"
    offset = first.offset()
    assert offset == 14

    resumed = h.make(Generate, {**config, "batch_size": 4})
    resumed.restore(offset)
    tail = (await h.run_source(resumed))["out"]
    assert head + tail == whole


async def test_null_fraction(h):
    config = {"columns": [{"name": "v", "kind": "int", "null_fraction": 0.5}], "count": 2000}
    rows = (await h.run_source(h.make(Generate, config)))["out"]
    nulls = sum(r["v"] is None for r in rows)
    assert 800 < nulls < 1200


async def test_a_column_keeps_its_values_when_another_is_added(h):
    one = {"columns": [{"name": "v", "kind": "int"}], "count": 20}
    two = {"columns": [{"name": "w", "kind": "uuid"}, {"name": "v", "kind": "int"}], "count": 20}
    a = (await h.run_source(h.make(Generate, one)))["out"]
    b = (await h.run_source(h.make(Generate, two)))["out"]
    assert [r["v"] for r in a] == [r["v"] for r in b]


async def test_rate_limits_records_per_second(h):
    config = {"columns": [{"name": "i", "kind": "sequence"}], "count": 30, "rate": 100}
    source = h.make(Generate, config)
    await source.open()
    started = time.monotonic()
    batches = await h.pull(source)
    # 30 records at 100/s: the last batch may leave at 0.27 s; never in one burst.
    assert time.monotonic() - started >= 0.2
    assert max(b.num_rows for b in batches) == 10


async def test_timestamp_without_bounds_is_generation_time(h):
    before = datetime.now(UTC)
    rows = (
        await h.run_source(
            h.make(Generate, {"columns": [{"name": "at", "kind": "timestamp"}], "count": 3})
        )
    )["out"]
    assert all(before <= r["at"] <= datetime.now(UTC) for r in rows)


INT = {"name": "a", "kind": "int"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"columns": []}, "at `$.columns`"),
        ({"columns": [{**INT, "kind": "dice"}]}, "Invalid value 'dice' - at `$.columns[0].kind`"),
        ({"columns": [{**INT, "min": 5, "max": 1}]}, "min (5) is greater than max (1) - at `$"),
        ({"columns": [{**INT, "kind": "choice"}]}, "missing required field `choices` - at `$"),
        (
            {"columns": [{**INT, "kind": "choice", "choices": ["x"], "weights": [1, 2]}]},
            "one positive weight per choice - at `$.columns[0]`",
        ),
        ({"columns": [{**INT, "nul_fraction": 1}]}, "unknown field `nul_fraction` - at `$.col"),
        ({"columns": [INT, {**INT, "kind": "uuid"}]}, "duplicate name 'a'"),
        ({"columns": [INT], "rate": -1}, "at `$.rate`"),
    ],
)
def test_bad_config_names_the_field(config, message):
    with pytest.raises(msgspec.ValidationError) as err:
        Generate.parse_config(config)
    assert message in str(err.value)
