"""write_file: formats, atomic appearance, rolling, names never reused."""

import asyncio
import json
import os

import msgspec
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from dataflow.processor import Context
from dataflow_processors.write_file import WriteFile

ROWS = [{"id": i, "name": f"n{i}", "score": i / 2} for i in range(25)]


def listing(directory):
    return sorted(os.listdir(directory))


async def test_file_appears_only_when_complete(h):
    sink = h.make(WriteFile, {"directory": "out", "format": "csv"})
    await sink.open()
    await sink.write_async(h.to_batch(ROWS[:10]))
    await sink.write_async(h.to_batch(ROWS[10:]))
    # While open, only the hidden temporary name exists: no reader sees half a file.
    assert listing(h.data_dir / "out") == [".part-run1-00000.csv.run1.test.tmp"]
    await sink.flush_async()
    assert listing(h.data_dir / "out") == ["part-run1-00000.csv"]
    assert pcsv.read_csv(h.data_dir / "out" / "part-run1-00000.csv").to_pylist() == ROWS
    await sink.close()
    assert listing(h.data_dir / "out") == ["part-run1-00000.csv"]


async def test_a_restarted_run_removes_its_half_written_file(h):
    crashed = h.make(WriteFile, {"directory": "out", "format": "jsonl"})
    await crashed.recover_async(None)
    await crashed.open()
    await crashed.write_async(h.to_batch(ROWS[:10]))  # then the process dies: no close
    config = WriteFile.parse_config({"directory": "out", "format": "jsonl"})
    other = WriteFile(config, Context(node_id="other", run_id="run1", data_dir=h.data_dir))
    await other.open()
    await other.write_async(h.to_batch(ROWS[:1]))  # another node's file being written
    restarted = h.make(WriteFile, {"directory": "out", "format": "jsonl"})
    await restarted.recover_async(None)
    # The other node's file is still being written: only this node's leftover went.
    assert listing(h.data_dir / "out") == [".part-run1-00001.jsonl.run1.other.tmp"]
    await restarted.open()
    await restarted.write_async(h.to_batch(ROWS))
    await restarted.close()
    await other.close()
    assert listing(h.data_dir / "out") == ["part-run1-00000.jsonl", "part-run1-00001.jsonl"]


async def test_roll_by_rows_splits_batches_exactly(h):
    config = {"directory": "out", "format": "parquet", "roll_rows": 10}
    await h.run_sink(h.make(WriteFile, config), [ROWS[:7], ROWS[7:25]])
    files = listing(h.data_dir / "out")
    assert files == [
        "part-run1-00000.parquet",
        "part-run1-00001.parquet",
        "part-run1-00002.parquet",
    ]
    tables = [pq.read_table(h.data_dir / "out" / f) for f in files]
    assert [t.num_rows for t in tables] == [10, 10, 5]
    assert pa.concat_tables(tables).to_pylist() == ROWS


async def test_jsonl_lines_and_roll_by_bytes(h):
    config = {"directory": "out", "roll_bytes": 200, "file_name": "{node_id}-{seq}.{ext}"}
    batch = pa.RecordBatch.from_pylist(
        [{"a": 1, "s": 'quote " and\nnewline', "l": [1, 2]}, {"a": None, "s": "é", "l": None}]
    )
    await h.run_sink(h.make(WriteFile, config), [batch] * 4)
    files = listing(h.data_dir / "out")
    assert files == ["test-0.jsonl", "test-1.jsonl"]  # a batch is 77 bytes: 3 fill a file
    lines = [(h.data_dir / "out" / f).read_text().splitlines() for f in files]
    assert [len(ls) for ls in lines] == [6, 2]
    assert [json.loads(line) for line in lines[1]] == batch.to_pylist()


async def test_roll_by_seconds(h):
    config = {"directory": "out", "roll_seconds": 0.05}
    sink = h.make(WriteFile, config)
    await sink.open()
    await sink.write_async(h.to_batch(ROWS[:1]))
    await asyncio.sleep(0.1)
    await sink.write_async(h.to_batch(ROWS[1:2]))  # the first file is old enough: roll
    await sink.close()
    assert len(listing(h.data_dir / "out")) == 2


async def test_new_schema_starts_a_new_file_and_names_are_never_reused(h):
    config = {"directory": "out", "format": "csv"}
    await h.run_sink(h.make(WriteFile, config), [[{"a": 1}], [{"b": "x"}]])
    await h.run_sink(h.make(WriteFile, config), [[{"a": 2}]])  # same run id: next free name
    files = listing(h.data_dir / "out")
    assert files == ["part-run1-00000.csv", "part-run1-00001.csv", "part-run1-00002.csv"]
    assert (h.data_dir / "out" / files[2]).read_text() == '"a"\n2\n'


async def test_nothing_written_means_no_file(h):
    await h.run_sink(h.make(WriteFile, {"directory": "out"}), [])
    assert not (h.data_dir / "out").exists() or listing(h.data_dir / "out") == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"directory": "o", "file_name": "x-{sequence}.csv"}, "bad placeholder 'sequence'"),
        ({"directory": "o", "file_name": "x.csv"}, "needs {seq}"),
        ({"directory": "o", "file_name": "sub/{seq}.csv"}, "no '/'"),
        ({"directory": "o", "format": "avro"}, "`$.format`"),
        ({"directory": "o", "roll_rows": -1}, "`$.roll_rows`"),
    ],
)
def test_bad_config(config, message):
    with pytest.raises(msgspec.ValidationError) as err:
        WriteFile.parse_config(config)
    assert message in str(err.value)
