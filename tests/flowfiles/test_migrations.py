"""Flow format migrations: every example and an old-format flow load in the current shapes."""

from __future__ import annotations

import copy
import json

import pytest

from dataflow.graph import validate_document
from dataflow.migrations import FORMAT_VERSION, migrate
from dataflow.model import decode_flow, export_flow
from dataflow.processor import default_registry
from dataflow.testing import run_flow
from tests.flowfiles.test_examples import EXAMPLES
from tests.server import ROOT

#: A flow as DataFlow exported it in format 1 (lookup_join with `source` and flat fields).
OLD = ROOT / "tests" / "flowfiles" / "format_v1" / "orders-with-countries.json"


def migrated_config(node_type: str, config: dict) -> dict:
    doc = {"format_version": 1, "nodes": [{"id": "n", "type": node_type, "config": config}]}
    return migrate(doc)["nodes"][0]["config"]


def exported_config(flow, node_id: str) -> dict:
    return next(n for n in json.loads(export_flow(flow))["nodes"] if n["id"] == node_id)["config"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_is_in_the_current_format_and_migrate_leaves_it_alone(path):
    doc = json.loads(path.read_text())
    assert doc["format_version"] == FORMAT_VERSION
    assert migrate(doc) == doc


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_written_as_format_1_loads_as_the_same_flow(path):
    doc = json.loads(path.read_text())
    old = {**doc, "format_version": 1}
    flow, report = validate_document(json.dumps(old), default_registry())
    assert flow is not None and report.valid, report.errors
    assert export_flow(flow) == export_flow(decode_flow(path.read_bytes()))


def test_the_old_format_fixture_loads_validates_and_exports_in_the_new_format():
    flow, report = validate_document(OLD.read_bytes(), default_registry())
    assert flow is not None and report.valid and report.warnings == [], report.errors
    assert json.loads(export_flow(flow))["format_version"] == FORMAT_VERSION == 2
    assert exported_config(flow, "countries") == {
        "reference": {"kind": "file", "path": "tests/flowfiles/format_v1/countries.csv",
                      "format": "csv"},
        "key_columns": ["country"],
        "lookup_key_columns": ["code"],
        "columns": ["country_name", "region"],
    }  # fmt: skip
    count = [{"function": "count", "as": "orders"}]
    assert exported_config(flow, "by_region") == {
        "aggregations": count, "group_by": ["region"], "mode": {"kind": "running", "emit": "final"}
    }  # fmt: skip
    assert exported_config(flow, "daily") == {
        "aggregations": count,
        "mode": {"kind": "tumbling", "time_column": "ts", "window_seconds": 86400.0,
                 "allowed_lateness_seconds": 0.0, "max_out_of_orderness_seconds": 31622400.0},
    }  # fmt: skip
    # The export is a current document: reading it again changes nothing.
    assert export_flow(decode_flow(export_flow(flow))) == export_flow(flow)


async def test_the_old_format_fixture_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flowfiles").symlink_to(ROOT / "flowfiles")
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    result = await run_flow(json.loads(OLD.read_text()), default_registry(), timeout=60)
    assert result.state == "completed", result.error
    rows = [
        json.loads(line)
        for f in (tmp_path / "data/out/orders-with-countries").glob("*.jsonl")
        for line in f.read_text().splitlines()
    ]
    assert rows and all(r["country_name"] and r["region"] for r in rows)
    assert {r["country"] for r in rows} == {"de", "es", "fr", "gb", "it", "nl", "pl"}
    assert result.metrics.nodes["unknown"].records_in["in"] == 246  # "us" is not in the table
    assert result.metrics.nodes["totals"].records_in["in"] == 2  # EU and UK, once at the end
    # Out of order by up to a year: every order is on time, in a window per day.
    assert result.metrics.nodes["days"].records_in["in"] > 300
    assert result.metrics.nodes["late"].records_in == {"in": 0}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            {"source": "postgres", "dsn": "postgresql://db/shop", "query": "SELECT 1",
             "password": {"secret": "pg"}, "key_columns": ["id"], "refresh_seconds": 60},
            {"reference": {"kind": "postgres", "dsn": "postgresql://db/shop",
                           "query": "SELECT 1"},
             "password": {"secret": "pg"}, "key_columns": ["id"], "refresh_seconds": 60},
        ),
        (
            {"source": "redis", "url": "redis://cache/0", "key": "c:{id}", "cache_size": 5,
             "path": "ignored.csv", "key_columns": [], "prefix": "c_"},
            {"reference": {"kind": "redis", "url": "redis://cache/0", "key": "c:{id}",
                           "cache_size": 5},
             "key_columns": [], "prefix": "c_"},
        ),
        # Unfinished designs (the canvas saves drafts): what is there moves, nothing fails.
        ({"source": "file"}, {"reference": {"kind": "file"}}),
        ({"source": "ftp", "path": "x"}, {"reference": {"kind": "ftp"}}),
        ({"key_columns": ["id"]}, {"key_columns": ["id"]}),
        # Already in the new shape (a script that left out format_version): untouched.
        ({"reference": {"kind": "file", "path": "a.csv"}},
         {"reference": {"kind": "file", "path": "a.csv"}}),
    ],
)  # fmt: skip
def test_lookup_join_configs_move_into_reference(old, new):
    assert migrated_config("lookup_join", old) == new


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"aggregations": [], "group_by": ["k"]}, {"aggregations": [], "group_by": ["k"]}),
        ({"emit": "final", "time_column": "ignored"},
         {"mode": {"kind": "running", "emit": "final"}}),
        ({"mode": "running"}, {"mode": {"kind": "running"}}),
        (
            {"mode": "sliding", "time_column": "t", "window_seconds": 60, "slide_seconds": 10,
             "max_out_of_orderness_seconds": 2, "allowed_lateness_seconds": 5, "group_by": []},
            {"group_by": [], "mode": {"kind": "sliding", "time_column": "t", "window_seconds": 60,
             "slide_seconds": 10, "max_out_of_orderness_seconds": 2,
             "allowed_lateness_seconds": 5}},
        ),
        # Ignored before, so dropped: the slide of a tumbling window, the default emit.
        ({"mode": "tumbling", "time_column": "t", "window_seconds": 5, "slide_seconds": 1,
          "emit": "updates"},
         {"mode": {"kind": "tumbling", "time_column": "t", "window_seconds": 5}}),
        # Refused before, refused after (emit: final with windows), at its new place.
        ({"mode": "tumbling", "emit": "final"}, {"mode": {"kind": "tumbling", "emit": "final"}}),
        ({"mode": {"kind": "running"}}, {"mode": {"kind": "running"}}),
    ],
)  # fmt: skip
def test_aggregate_configs_move_into_mode(old, new):
    assert migrated_config("aggregate", old) == new


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"url": "http://a"}, {"url": "http://a"}),
        ({"url": "http://a", "pagination": "none", "page_param": "p"},
         {"url": "http://a", "pagination": {"kind": "none"}}),
        ({"pagination": "next_link", "next_pointer": "/next", "first_page": 0},
         {"pagination": {"kind": "next_link", "next_pointer": "/next"}}),
        ({"pagination": "page_param", "page_param": "p", "first_page": 0, "next_pointer": ""},
         {"pagination": {"kind": "page_param", "page_param": "p", "first_page": 0}}),
        # A page parameter without page_param pagination was ignored: dropped.
        ({"page_param": "p"}, {"pagination": {"kind": "none"}}),
    ],
)  # fmt: skip
def test_http_poll_pagination_moves_into_its_kind(old, new):
    assert migrated_config("http_poll", old) == new


def test_validate_schema_drops_the_null_rules_a_type_does_not_have():
    old = {"fields": [
        {"name": "t", "type": "timestamp", "min": None, "max": None, "pattern": None,
         "allowed": None},
        {"name": "n", "type": "int64", "min": None, "max": 5, "pattern": None},
        {"name": "b", "type": "bool", "min": 1},  # refused before, refused after
    ], "extra_columns": "drop"}  # fmt: skip
    assert migrated_config("validate_schema", old) == {
        "fields": [
            {"name": "t", "type": "timestamp"},
            {"name": "n", "type": "int64", "min": None, "max": 5},
            {"name": "b", "type": "bool", "min": 1},
        ],
        "extra_columns": "drop",
    }


def test_migrate_copies_and_leaves_other_processors_and_non_documents_alone():
    doc = json.loads(OLD.read_text())
    before = copy.deepcopy(doc)
    migrated = migrate(doc)
    assert doc == before  # the input is not changed
    changed = {"lookup_join", "aggregate", "validate_schema", "http_poll"}
    assert [n["config"] for n in migrated["nodes"] if n["type"] not in changed] == [
        n["config"] for n in before["nodes"] if n["type"] not in changed
    ]
    # Validation reports these with their paths; migrating must not fail on them first.
    for junk in (None, [], "flow", {"format_version": "1"}, {"format_version": 9}):
        assert migrate(junk) == junk
    assert migrate({"format_version": 1, "nodes": 3}) == {"format_version": 2, "nodes": 3}
    assert migrate({"format_version": 1, "nodes": [7, {"type": "lookup_join"}]})["nodes"] == [
        7,
        {"type": "lookup_join"},
    ]


def test_a_document_without_format_version_is_format_1():
    doc = json.loads(OLD.read_text())
    del doc["format_version"]
    flow, report = validate_document(doc, default_registry())
    assert flow is not None and report.valid, report.errors
    assert flow.format_version == FORMAT_VERSION
    assert flow.node("countries").config["reference"]["kind"] == "file"


def test_a_newer_format_than_the_server_knows_is_refused_at_its_path():
    doc = {**json.loads(OLD.read_text()), "format_version": FORMAT_VERSION + 1}
    flow, report = validate_document(doc, default_registry())
    assert flow is None
    assert [(i.path, i.code) for i in report.errors] == [("format_version", "invalid_document")]
