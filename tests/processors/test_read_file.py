"""read_file: formats, bad records with line numbers, offsets and restore, watch mode."""

import asyncio

import msgspec
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from dataflow.processor import SchemaError
from dataflow_processors.read_file import FAILURE_SCHEMA, ReadFile

ORDERS = "id,name,amount\n1,ann,1.5\n2,bob,2\n3,cy,3.25\n"


async def test_csv_rows_and_inferred_types(h):
    (h.data_dir / "orders.csv").write_text(ORDERS)
    source = h.make(ReadFile, {"path": "orders.csv"})  # relative: the working directory
    assert source.output_schema({}) == {
        "out": pa.schema([("id", pa.int64()), ("name", pa.string()), ("amount", pa.float64())])
    }
    out = await h.run_source(source)
    assert out == {
        "out": [
            {"id": 1, "name": "ann", "amount": 1.5},
            {"id": 2, "name": "bob", "amount": 2.0},
            {"id": 3, "name": "cy", "amount": 3.25},
        ]
    }
    assert source.offset() == {
        "files_done": ["orders.csv"],
        "current": None,
        "position": 0,
        "failed": 0,
    }


async def test_csv_options_quotes_and_no_header(h):
    (h.data_dir / "a.csv").write_text("1;'x; y';2024-01-02\n2;'it''s\nmultiline';\n")
    config = {
        "path": "a.csv",
        "delimiter": ";",
        "quote_char": "'",
        "header": False,
        "column_types": {"f0": "string", "f2": "timestamp[s]"},
    }
    rows = (await h.run_source(h.make(ReadFile, config)))["out"]
    assert [r["f0"] for r in rows] == ["1", "2"]
    assert [r["f1"] for r in rows] == ["x; y", "it's\nmultiline"]
    assert rows[0]["f2"].isoformat() == "2024-01-02T00:00:00"
    assert rows[1]["f2"] is None


async def test_blocks_split_anywhere_read_like_one_parse(h):
    # Quoted newlines and quotes straddle many 4 KiB block ends.
    lines = ["k,text,n"] + [f'{i},"line ""{i}""\nnext, {i}",{i * 7}' for i in range(3000)]
    (h.data_dir / "big.csv").write_text("\n".join(lines) + "\n")
    expected = pcsv.read_csv(h.data_dir / "big.csv").to_pylist()
    config = {"path": "big.csv", "block_size": 4096, "batch_size": 1000}
    source = h.make(ReadFile, config)
    await source.open()
    batches = await h.pull(source)
    assert h.by_port(batches)["out"] == expected
    assert max(b.num_rows for _, b in batches) <= 1000


async def test_jsonl_and_parquet(h):
    (h.data_dir / "e.jsonl").write_text('{"a": 1, "b": "x"}\n\n{"a": 2, "b": null, "extra": 1}\n')
    out = await h.run_source(h.make(ReadFile, {"path": "e.jsonl", "format": "jsonl"}))
    # Fields seen anywhere in the first MiB are columns; missing values are null.
    assert out == {"out": [{"a": 1, "b": "x", "extra": None}, {"a": 2, "b": None, "extra": 1}]}

    pq.write_table(pa.table({"v": list(range(10))}), h.data_dir / "p.parquet", row_group_size=4)
    source = h.make(ReadFile, {"path": "*.parquet", "format": "parquet", "batch_size": 3})
    assert source.output_schema({}) == {"out": pa.schema([("v", pa.int64())])}
    assert (await h.run_source(source))["out"] == [{"v": i} for i in range(10)]


async def test_bad_csv_rows_go_to_failure_with_line_numbers(h):
    text = 'id,name,amount\n1,"two\nlines",1.5\n2,short\n3,c,notanumber\n4,d,4\n'
    (h.data_dir / "bad.csv").write_text(text)
    config = {"path": "bad.csv", "on_error": "route", "column_types": {"amount": "double"}}
    source = h.make(ReadFile, config)
    assert source.output_schema({})["failure"] == FAILURE_SCHEMA
    out = await h.run_source(source)
    assert out["out"] == [
        {"id": 1, "name": "two\nlines", "amount": 1.5},
        {"id": 4, "name": "d", "amount": 4.0},
    ]
    assert [(f["file"], f["line"], f["raw"]) for f in out["failure"]] == [
        ("bad.csv", 4, "2,short"),
        ("bad.csv", 5, "3,c,notanumber"),
    ]
    assert "Expected 3 columns, got 2" in out["failure"][0]["error"]
    assert "conversion error to double: invalid value 'notanumber'" in out["failure"][1]["error"]


async def test_bad_json_lines_go_to_failure(h):
    text = '{"a": 1}\n{"a": \n{"a": "text"}\n{"a": 4}\n'
    (h.data_dir / "e.jsonl").write_text(text)
    out = await h.run_source(
        h.make(ReadFile, {"path": "e.jsonl", "format": "jsonl", "on_error": "route"})
    )
    assert out["out"] == [{"a": 1}, {"a": 4}]
    assert [(f["line"], f["raw"]) for f in out["failure"]] == [(2, '{"a": '), (3, '{"a": "text"}')]
    assert "changed from number to string" in out["failure"][1]["error"]


async def test_bad_row_fails_the_run_naming_file_and_line_or_is_dropped(h):
    (h.data_dir / "bad.csv").write_text("a,b\n1,2\n3\n")
    with pytest.raises(ValueError, match=r"bad\.csv line 3: CSV parse error: Expected 2 columns"):
        await h.run_source(h.make(ReadFile, {"path": "bad.csv"}))
    out = await h.run_source(h.make(ReadFile, {"path": "bad.csv", "on_error": "drop"}))
    assert out == {"out": [{"a": 1, "b": 2}]}


async def test_restore_skips_files_done_and_rows_sent(h):
    for name, start in (("a.csv", 0), ("b.csv", 100)):
        rows = "\n".join(f"{i},{'oops' if i % 7 == 3 else i}" for i in range(start, start + 20))
        (h.data_dir / name).write_text("n,v\n" + rows + "\n")
    config = {"path": "*.csv", "batch_size": 4, "on_error": "route", "column_types": {"v": "int64"}}
    everything = await h.run_source(h.make(ReadFile, config))

    for cut in (1, 3, 7, 9):  # inside a.csv, after its failures, inside b.csv
        first = h.make(ReadFile, config)
        await first.open()
        head = await h.pull(first, limit=cut)
        offset = msgspec.json.decode(msgspec.json.encode(first.offset()))  # as checkpointed
        second = h.make(ReadFile, config)
        second.restore(offset)
        await second.open()
        tail = await h.pull(second)
        combined = h.by_port(head + tail)
        assert combined == everything, cut


async def test_restore_inside_a_parquet_file(h):
    pq.write_table(pa.table({"v": list(range(10))}), h.data_dir / "p.parquet", row_group_size=4)
    config = {"path": "p.parquet", "format": "parquet", "batch_size": 3}
    source = h.make(ReadFile, config)
    source.restore({"files_done": [], "current": "p.parquet", "position": 5, "failed": 0})
    assert (await h.run_source(source))["out"] == [{"v": i} for i in range(5, 10)]


async def test_watch_picks_up_files_that_land_later(h):
    (h.data_dir / "in").mkdir()
    source = h.make(ReadFile, {"path": "in/*.csv", "watch": True, "poll_seconds": 0.05})
    await source.open()
    stream = source.batches()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.2)
    assert not first.done()  # nothing yet, and watching never ends
    (h.data_dir / "in" / ".x.csv.tmp").write_text("a\n9\n")  # hidden: still being written
    (h.data_dir / "in" / "1.csv").write_text("a\n1\n")
    assert (await asyncio.wait_for(first, 5))[1].to_pylist() == [{"a": 1}]
    (h.data_dir / "in" / "2.csv").write_text("a\n2\n")
    assert (await asyncio.wait_for(anext(stream), 5))[1].to_pylist() == [{"a": 2}]
    assert source.offset()["files_done"] == ["in/1.csv"]
    await stream.aclose()


async def test_no_file_means_unknown_schema_and_an_empty_stream(h):
    source = h.make(ReadFile, {"path": "nothing/*.csv"})
    assert source.output_schema({}) is None
    assert await h.run_source(source) == {}
    (h.data_dir / "empty.csv").write_text("")
    (h.data_dir / "header.csv").write_text("a,b\n")
    assert await h.run_source(h.make(ReadFile, {"path": "*.csv"})) == {}


def test_design_time_errors_name_the_field(h):
    (h.data_dir / "orders.csv").write_text(ORDERS)
    with pytest.raises(SchemaError) as err:
        h.make(ReadFile, {"path": "orders.csv", "column_types": {"amout": "double"}}).output_schema(
            {}
        )
    assert err.value.field == "column_types"
    assert "amout" in err.value.message
    (h.data_dir / "broken.parquet").write_text("not parquet")
    with pytest.raises(SchemaError) as err:
        h.make(ReadFile, {"path": "broken.parquet", "format": "parquet"}).output_schema({})
    assert err.value.field == "path"


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({}, "missing required field `path`"),
        ({"path": "x", "format": "xml"}, "`$.format`"),
        ({"path": "x", "delimiter": ";;"}, "`$.delimiter`"),
        ({"path": "x", "column_types": {"a": "integer"}}, "`$.column_types[...]`"),
        ({"path": "x", "poll_seconds": 0}, "`$.poll_seconds`"),
    ],
)
def test_bad_config_names_the_field(config, where):
    with pytest.raises(msgspec.ValidationError, match=r".*") as err:
        ReadFile.parse_config(config)
    assert where in str(err.value)


async def test_one_schema_for_the_stream_columns_matched_by_name(h):
    (h.data_dir / "1.csv").write_text("id,amount\n1,2.5\n")
    (h.data_dir / "2.csv").write_text("id,amount\n2,oops\n3,4\n")  # alone, amount would be text
    (h.data_dir / "3.csv").write_text("note,id\nhi,5\n")  # other order, amount missing
    out = await h.run_source(h.make(ReadFile, {"path": "*.csv", "on_error": "route"}))
    assert out["out"] == [
        {"id": 1, "amount": 2.5},
        {"id": 3, "amount": 4.0},
        {"id": 5, "amount": None},
    ]
    assert [(f["file"], f["line"]) for f in out["failure"]] == [("2.csv", 2)]
