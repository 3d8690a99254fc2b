"""write_file's two-phase commit (delivery exactly_once): files staged until their checkpoint
commits, crashes between the phases, recovery, and the same on S3 (moto's server)."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from dataflow.processor import Context
from dataflow_processors.write_file import STAGING, WriteFile
from tests.connectors.test_write_file_s3 import bucket, config, endpoint, s3  # noqa: F401

ROWS = [{"id": i, "name": f"n{i}"} for i in range(40)]


def sink(directory: Path | str, delivery: str = "exactly_once", node: str = "out", **cfg):
    config = {"directory": str(directory), **cfg}
    context = Context(node_id=node, run_id="run1", delivery=delivery)  # type: ignore[arg-type]
    return WriteFile(WriteFile.parse_config(config), context)


def write(s: WriteFile, rows: list[dict]) -> None:
    s.write(pa.RecordBatch.from_pylist(rows))


def visible(directory: Path) -> list[str]:
    """What a reader globbing the directory finds (hidden names and folders are skipped, as
    read_file, Spark, Hive and pyarrow datasets skip them)."""
    return sorted(
        os.path.relpath(p, directory) for p in glob.glob(f"{directory}/**/*", recursive=True)
    )


def published(directory: Path) -> list[dict]:
    return [
        json.loads(line)
        for name in visible(directory)
        for line in (directory / name).read_text().splitlines()
    ]


def staged(directory: Path) -> list[str]:
    root = directory / STAGING
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


# -- local directory ------------------------------------------------------------------------
def test_files_show_only_when_their_checkpoint_commits(tmp_path):
    out = tmp_path / "out"
    s = sink(out, roll_rows=5)
    s._open()
    write(s, ROWS[:12])  # two rolled files and an open one
    assert visible(out) == []
    s.prepare_checkpoint(1)
    assert visible(out) == []  # durable, but staged
    assert staged(out) == [
        "run1",
        "run1/out",
        "run1/out/ckpt-1.json",
        "run1/out/part-run1-00000.jsonl",
        "run1/out/part-run1-00001.jsonl",
        "run1/out/part-run1-00002.jsonl",
    ]
    write(s, ROWS[12:20])  # the next epoch, written while checkpoint 1 commits
    s.commit_checkpoint(1)
    assert visible(out) == [f"part-run1-0000{i}.jsonl" for i in range(3)]
    assert published(out) == ROWS[:12]
    s.prepare_checkpoint(2)
    s.commit_checkpoint(2)
    s._close()
    assert published(out) == ROWS[:20]
    assert not (out / STAGING).exists()  # nothing left behind


def test_crash_after_prepare_recovers_only_the_committed_checkpoint(tmp_path):
    out = tmp_path / "out"
    first = sink(out)
    first._open()
    write(first, ROWS[:10])
    first.prepare_checkpoint(1)
    first.commit_checkpoint(1)
    write(first, ROWS[10:20])
    first.prepare_checkpoint(2)  # the journal never committed 2...
    write(first, ROWS[20:25])  # ...and these have no checkpoint at all
    del first  # crash: no commit, no close

    again = sink(out)
    again.recover(1)
    assert published(out) == ROWS[:10]
    assert staged(out) == []  # checkpoint 2's leftovers and the open file are gone
    again._open()
    write(again, ROWS[10:25])  # the replay from checkpoint 1's offsets
    again.prepare_checkpoint(2)
    again.commit_checkpoint(2)
    again._close()
    assert published(out) == ROWS[:25]
    assert visible(out) == ["part-run1-00000.jsonl", "part-run1-00001.jsonl"]  # next free name


def test_crash_between_journal_commit_and_commit_checkpoint(tmp_path):
    out = tmp_path / "out"
    first = sink(out)
    first._open()
    write(first, ROWS[:10])
    first.prepare_checkpoint(1)
    first.commit_checkpoint(1)
    write(first, ROWS[10:20])
    first.prepare_checkpoint(2)  # the journal committed 2, the sink never heard of it
    del first

    again = sink(out)
    again.recover(2)
    assert published(out) == ROWS[:20]  # checkpoint 2's files published, once
    again.recover(2)  # a crash during recovery: doing it again changes nothing
    again.commit_checkpoint(2)
    assert published(out) == ROWS[:20]
    assert staged(out) == []


def test_commit_is_idempotent_and_covers_earlier_checkpoints(tmp_path):
    out = tmp_path / "out"
    s = sink(out)
    s._open()
    for checkpoint in (1, 2, 3):
        write(s, ROWS[(checkpoint - 1) * 10 : checkpoint * 10])
        s.prepare_checkpoint(checkpoint)
    s.commit_checkpoint(2)  # the commit of 1 was lost: 2 publishes both
    assert published(out) == ROWS[:20]
    s.commit_checkpoint(2)
    s.commit_checkpoint(1)
    assert published(out) == ROWS[:20]
    s.commit_checkpoint(3)
    s.commit_checkpoint(3)
    assert published(out) == ROWS[:30]
    assert len(visible(out)) == 3


def test_crash_half_way_through_a_commit(tmp_path):
    out = tmp_path / "out"
    first = sink(out, roll_rows=5)
    first._open()
    write(first, ROWS[:20])
    first.prepare_checkpoint(1)
    # The commit moved one of the four files, then the process died.
    (out / STAGING / "run1" / "out" / "part-run1-00001.jsonl").rename(out / "part-run1-00001.jsonl")
    assert len(visible(out)) == 1

    sink(out).recover(1)
    assert visible(out) == [f"part-run1-0000{i}.jsonl" for i in range(4)]
    assert published(out) == ROWS[:20]


def test_recover_without_a_committed_checkpoint_discards_everything(tmp_path):
    out = tmp_path / "out"
    first = sink(out)
    first._open()
    write(first, ROWS[:10])
    first.prepare_checkpoint(1)
    del first
    sink(out).recover(None)
    assert visible(out) == []
    assert not (out / STAGING).exists()


def test_empty_checkpoints_and_an_empty_run_leave_nothing(tmp_path):
    out = tmp_path / "out"
    s = sink(out)
    s.recover(None)
    s._open()
    s.prepare_checkpoint(1)
    s.commit_checkpoint(1)
    s._close()
    assert not out.exists() or os.listdir(out) == []


def test_close_drops_what_no_checkpoint_covers_and_keeps_prepared_checkpoints(tmp_path):
    out = tmp_path / "out"
    first = sink(out, format="parquet")
    first._open()
    write(first, ROWS[:10])
    first.prepare_checkpoint(1)
    write(first, ROWS[10:20])
    first._close()  # the run failed: checkpoint 1 may still commit, the rest is replayed
    assert staged(out) == [
        "run1",
        "run1/out",
        "run1/out/ckpt-1.json",
        "run1/out/part-run1-00000.parquet",
    ]
    sink(out, format="parquet").recover(1)
    assert visible(out) == ["part-run1-00000.parquet"]
    assert pq.read_table(out / "part-run1-00000.parquet").to_pylist() == ROWS[:10]


def test_two_sinks_in_one_directory_recover_their_own_files(tmp_path):
    out = tmp_path / "out"
    a = sink(out, node="a", file_name="a-{seq}.{ext}")
    b = sink(out, node="b", file_name="b-{seq}.{ext}")
    for s, rows in ((a, ROWS[:5]), (b, ROWS[5:10])):
        s._open()
        write(s, rows)
        s.prepare_checkpoint(1)
    sink(out, node="a", file_name="a-{seq}.{ext}").recover(None)  # a's run starts over
    sink(out, node="b", file_name="b-{seq}.{ext}").recover(1)
    assert visible(out) == ["b-0.jsonl"]
    assert published(out) == ROWS[5:10]


def test_at_least_once_files_still_show_on_roll_and_at_checkpoints(tmp_path):
    out = tmp_path / "out"
    s = sink(out, delivery="at_least_once", roll_rows=10)
    s._open()
    write(s, ROWS[:15])
    assert visible(out) == ["part-run1-00000.jsonl"]  # rolled: renamed into place at once
    s.prepare_checkpoint(1)  # the default: flush, which completes the open file
    assert visible(out) == ["part-run1-00000.jsonl", "part-run1-00001.jsonl"]
    s.commit_checkpoint(1)
    s.recover(1)  # nothing staged in this mode: nothing to do
    s._close()
    assert published(out) == ROWS[:15]
    assert not (out / STAGING).exists()


# -- S3 (moto) ------------------------------------------------------------------------------
def s3_sink(endpoint: str, directory: str, **cfg) -> WriteFile:  # noqa: F811
    raw = config(endpoint, directory, **cfg)
    context = Context(node_id="out", run_id="run1", delivery="exactly_once")
    return WriteFile(WriteFile.parse_config(raw), context)


def s3_listing(fs: pafs.FileSystem, path: str) -> list[str]:
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=True))
    return sorted(i.path[len(path) + 1 :] for i in infos if i.type == pafs.FileType.File)


def test_s3_stages_under_a_hidden_prefix_and_copies_at_commit(endpoint, bucket, s3):  # noqa: F811
    prefix = f"{bucket}/out"
    first = s3_sink(endpoint, f"s3://{prefix}", format="parquet", roll_rows=10)
    first._open()
    write(first, ROWS[:15])
    first.prepare_checkpoint(1)
    assert [p for p in s3_listing(s3, prefix) if not p.startswith(".")] == []
    first.commit_checkpoint(1)
    assert s3_listing(s3, prefix) == ["part-run1-00000.parquet", "part-run1-00001.parquet"]
    write(first, ROWS[15:30])
    first.prepare_checkpoint(2)
    del first  # crash before commit_checkpoint(2), after the journal committed it

    again = s3_sink(endpoint, f"s3://{prefix}", format="parquet", roll_rows=10)
    again.recover(2)
    again.recover(2)
    files = s3_listing(s3, prefix)
    assert files == [f"part-run1-0000{i}.parquet" for i in range(4)]
    tables = [pq.read_table(f"{prefix}/{f}", filesystem=s3) for f in files]
    assert pa.concat_tables(tables).to_pylist() == ROWS[:30]


def test_s3_recover_discards_uncommitted_uploads(endpoint, bucket, s3):  # noqa: F811
    prefix = f"{bucket}/out"
    first = s3_sink(endpoint, f"s3://{prefix}")
    first._open()
    write(first, ROWS[:10])
    first.prepare_checkpoint(1)
    first.commit_checkpoint(1)
    write(first, ROWS[10:20])
    first.prepare_checkpoint(2)
    write(first, ROWS[20:30])
    first.roll()  # an upload complete in staging, in no checkpoint
    del first

    s3_sink(endpoint, f"s3://{prefix}").recover(1)
    assert s3_listing(s3, prefix) == ["part-run1-00000.jsonl"]
    with s3.open_input_stream(f"{prefix}/part-run1-00000.jsonl") as f:
        assert [json.loads(line) for line in f.read().splitlines()] == ROWS[:10]


@pytest.mark.parametrize("delivery", ["at_least_once", "exactly_once"])
def test_class_declares_exactly_once(delivery, tmp_path):
    assert WriteFile.exactly_once
    s = sink(tmp_path / "o", delivery=delivery)
    assert s.two_phase is (delivery == "exactly_once")
