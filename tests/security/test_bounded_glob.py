"""A glob cannot freeze the server: symlink loops are walked once, huge trees end early."""

from __future__ import annotations

import os
import time

import pytest

from dataflow.graph import check_document
from dataflow.processor import default_registry
from dataflow.processor.files import GlobTooLarge, bounded_glob


@pytest.fixture
def loopy(tmp_path):
    """a/b/c with files at each level, a symlink from a/b back to the top, and dot files."""
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for rel in ["x.csv", "a/y.csv", "a/b/z.csv", "a/b/c/w.csv", ".hidden/h.csv", ".dot.csv"]:
        (tmp_path / rel).write_text("n\n1\n")
    os.symlink(tmp_path, tmp_path / "a" / "b" / "loop")
    return tmp_path


def test_a_recursive_glob_through_a_symlink_loop_ends_and_lists_each_file_once(loopy):
    started = time.monotonic()
    found = bounded_glob(f"{loopy}/**/*.csv")
    assert time.monotonic() - started < 2
    assert [os.path.relpath(p, loopy) for p in found] == [
        "a/b/c/w.csv",
        "a/b/z.csv",
        "a/y.csv",
        "x.csv",
    ]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.csv", ["x.csv"]),
        ("a/*.csv", ["a/y.csv"]),
        ("a/*/*.csv", ["a/b/z.csv"]),
        ("[ax]*", ["x.csv"]),
        ("?.csv", ["x.csv"]),
        (".hidden/*.csv", [".hidden/h.csv"]),
        ("a/b/z.csv", ["a/b/z.csv"]),
    ],
)
def test_patterns_match_as_glob_does(loopy, pattern, expected):
    found = bounded_glob(f"{loopy}/{pattern}")
    assert [os.path.relpath(p, loopy) for p in found] == expected


def test_a_glob_over_too_many_entries_stops_with_a_clear_error(tmp_path):
    for i in range(50):
        (tmp_path / f"d{i}").mkdir()
        for j in range(5):
            (tmp_path / f"d{i}" / f"f{j}.txt").write_text("")
    with pytest.raises(GlobTooLarge, match="more than 100 directory entries"):
        bounded_glob(f"{tmp_path}/**/*.csv", max_entries=100)
    assert len(bounded_glob(f"{tmp_path}/**/*.txt")) == 250


def test_validating_a_read_file_over_a_loop_answers_at_once(loopy):
    doc = {
        "name": "loop",
        "nodes": [
            {"id": "r", "type": "read_file", "config": {"path": f"{loopy}/**/*.csv"}},
            {"id": "out", "type": "console", "config": {}},
        ],
        "edges": [{"id": "e", "source": "r", "target": "out"}],
    }
    started = time.monotonic()
    report = check_document(doc, default_registry()).report
    assert time.monotonic() - started < 5
    assert report.valid, report.errors
    assert [c.name for c in report.schemas["r"]["out"]] == ["n"]
