"""`dataflow run FILE`: runs to completion in the terminal; failures name the node."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.cli.test_cli import dataflow
from tests.server import ROOT


def test_run_completes_and_summarises(tmp_path):
    doc = json.loads((ROOT / "flowfiles" / "revenue-by-country.json").read_text())
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(doc))
    result = dataflow("run", "--quiet", str(path))
    assert result.returncode == 0, result.stderr
    assert "completed in" in result.stderr
    assert "records reached the sinks" in result.stderr


def test_run_failure_exits_1_naming_node_and_error(tmp_path):
    doc = json.loads((ROOT / "flowfiles" / "revenue-by-country.json").read_text())
    doc["nodes"][1]["config"]["query"] = "SELECT CAST(country AS INTEGER) AS c FROM input"
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(doc))
    result = dataflow("run", "--quiet", str(path))
    assert result.returncode == 1
    assert "failed in node 'agg'" in result.stderr
    assert "Conversion Error" in result.stderr


def test_run_refuses_an_invalid_flow_with_its_errors(tmp_path):
    doc = json.loads((ROOT / "flowfiles" / "revenue-by-country.json").read_text())
    doc["edges"] = []
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(doc))
    result = dataflow("run", str(path))
    assert result.returncode == 1
    assert "input_not_connected" in result.stderr


def test_validate_and_run_an_old_format_file(tmp_path):
    # The fixture's paths are relative to the repository; its output lands under tmp_path.
    (tmp_path / "flowfiles").symlink_to(ROOT / "flowfiles")
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    old = "tests/flowfiles/format_v1/orders-with-countries.json"
    for command in (["validate", old], ["run", "--quiet", old]):
        result = subprocess.run(
            [sys.executable, "-m", "dataflow.cli", *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert "completed in" in result.stderr
    assert list((tmp_path / "data/out/orders-with-countries").glob("*.jsonl"))
