"""Every example in flowfiles/ validates; those that need no outside service also run to
completion on the real engine here (tests/e2e_connectors runs the others against the real
services)."""

from __future__ import annotations

import json
import re

import pytest

from dataflow.graph import validate_document
from dataflow.model import convert_flow, export_flow
from dataflow.processor import default_registry
from dataflow.testing import run_flow
from tests.server import ROOT

EXAMPLES = sorted((ROOT / "flowfiles").glob("*.json"))

#: Processors that talk to a server outside DataFlow, or (http_listen) wait for clients to
#: send records: an example using one cannot run to completion here.
NEEDS_A_SERVER = frozenset(
    {
        "cassandra_write",
        "elasticsearch_index",
        "http_listen",
        "http_poll",
        "http_post",
        "kafka_consume",
        "kafka_publish",
        "postgres_query",
        "postgres_write",
        "redis_stream",
        "redis_write",
        "websocket_subscribe",
    }
)


def needs_a_server(path) -> bool:
    return any(n["type"] in NEEDS_A_SERVER for n in json.loads(path.read_text())["nodes"])


SELF_CONTAINED = [p for p in EXAMPLES if not needs_a_server(p)]
WITH_SERVERS = [p for p in EXAMPLES if needs_a_server(p)]


def test_there_are_at_least_three_examples():
    assert len(EXAMPLES) >= 3


def test_the_server_processor_types_exist():
    assert not NEEDS_A_SERVER - set(default_registry().names())  # a renamed processor


@pytest.mark.parametrize("path", WITH_SERVERS, ids=lambda p: p.stem)
def test_examples_needing_a_server_run_in_the_connector_end_to_end_tests(path):
    runs = (ROOT / "tests" / "e2e_connectors" / "test_examples_run.py").read_text()
    assert f'"{path.stem}"' in runs


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_validates_without_warnings(path):
    flow, report = validate_document(path.read_bytes(), default_registry())
    assert flow is not None and report.valid, report.errors
    assert report.warnings == []
    assert flow.id == path.stem  # file name = flow id: easy to find


@pytest.mark.parametrize("path", SELF_CONTAINED, ids=lambda p: p.stem)
async def test_example_runs_to_completion(path, tmp_path, monkeypatch):
    # Examples use paths relative to the repository; outputs land under tmp_path/data.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flowfiles").symlink_to(ROOT / "flowfiles")
    result = await run_flow(json.loads(path.read_text()), default_registry(), timeout=60)
    assert result.state == "completed", result.error
    sinks_in = sum(
        sum(n.records_in.values())
        for n in result.metrics.nodes.values()
        if not n.records_out and n.records_in
    )
    assert sinks_in > 0


def test_orders_example_writes_the_paid_orders_over_100(tmp_path, monkeypatch):
    import asyncio

    import pyarrow.csv as pacsv

    monkeypatch.chdir(tmp_path)
    (tmp_path / "flowfiles").symlink_to(ROOT / "flowfiles")
    doc = json.loads((ROOT / "flowfiles" / "orders-to-jsonl.json").read_text())
    result = asyncio.run(run_flow(doc, default_registry(), timeout=60))
    assert result.state == "completed"
    orders = pacsv.read_csv(ROOT / "flowfiles" / "data" / "orders.csv").to_pylist()
    expected = {o["order_id"] for o in orders if o["status"] == "paid" and o["amount"] > 100}
    rows = [
        json.loads(line)
        for f in (tmp_path / "data/out/paid-orders").glob("*.jsonl")
        for line in f.read_text().splitlines()
    ]
    assert {r["order_id"] for r in rows} == expected
    assert all(r["country"].isupper() for r in rows)


def test_the_flow_format_doc_example_is_valid_and_canonical():
    text = (ROOT / "docs" / "flow-format.md").read_text()
    block = re.search(r"```json\n(.*?)```", text, re.S).group(1)
    flow, report = validate_document(block.encode(), default_registry())
    assert flow is not None and report.valid, report.errors
    # The doc shows a canonical export (sorted keys, nodes and edges by id).
    assert json.loads(export_flow(convert_flow(json.loads(block)))) == json.loads(block)
