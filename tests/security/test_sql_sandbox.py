"""SQL in flows and samples cannot read or write files, attach databases or load extensions:
at design time (validation binds it), at run time and in an edge sample's `where`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.graph import check_document
from dataflow.processor import default_registry
from dataflow.settings import Settings
from dataflow.testing import run_flow
from tests.auth import auth_settings, sign_in

SECRET_FILE = "/etc/passwd"


def escapes(tmp_path: Path) -> list[tuple[str, str]]:
    """(SQL expression or query fragment, what DuckDB must refuse)."""
    return [
        (f"(SELECT count(*) FROM read_csv('{SECRET_FILE}')) > 0", "file system operations"),
        (f"(SELECT count(*) FROM read_text('{SECRET_FILE}')) > 0", "file system operations"),
        (f"(SELECT count(*) FROM glob('{tmp_path}/*')) > 0", "file system operations"),
    ]


def flow(node: dict) -> dict:
    return {
        "name": "probe",
        "nodes": [
            {
                "id": "src",
                "type": "generate",
                "config": {"count": 3, "columns": [{"name": "n", "kind": "sequence"}]},
            },
            node,
            {"id": "out", "type": "console", "config": {}},
        ],
        "edges": [
            {"id": "e1", "source": "src", "target": node["id"]},
            {
                "id": "e2",
                "source": node["id"],
                "source_port": "matched" if node["type"] == "filter" else "out",
                "target": "out",
            },
        ],
    }


@pytest.mark.parametrize("case", range(3))
def test_validation_refuses_file_access_in_a_filter_condition_naming_the_field(tmp_path, case):
    condition, refusal = escapes(tmp_path)[case]
    doc = flow({"id": "f", "type": "filter", "config": {"condition": condition}})
    report = check_document(doc, default_registry()).report
    [error] = report.errors
    assert error.path == "nodes[1].config.condition"
    assert refusal in error.message
    assert "root:" not in error.message


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT n FROM input, (SELECT * FROM read_parquet('/tmp/x.parquet'))",
        "SELECT * FROM read_json('/etc/hostname')",
    ],
)
def test_validation_refuses_file_access_in_sql_queries(query):
    doc = flow({"id": "q", "type": "sql", "config": {"query": query}})
    [error] = check_document(doc, default_registry()).report.errors
    assert error.path == "nodes[1].config.query"
    assert "file system operations are disabled" in error.message


async def test_a_run_cannot_write_files_attach_databases_or_load_extensions(tmp_path):
    target = tmp_path / "stolen.csv"
    for statement, refusal in [
        (f"COPY (SELECT 1) TO '{target}'", "file system operations"),
        (f"ATTACH '{tmp_path / 'x.db'}' AS x", "file system operations"),
        ("INSTALL httpfs", "file system operations"),
        ("LOAD httpfs", "disabled"),
        ("SET enable_external_access = true", "configuration has been locked"),
    ]:
        # A statement smuggled into a filter condition through a subquery's end.
        condition = f"true; {statement}; SELECT true"
        doc = flow({"id": "f", "type": "filter", "config": {"condition": condition}})
        report = check_document(doc, default_registry()).report
        assert not report.valid, statement
        assert any(refusal in e.message or "syntax" in e.message.lower() for e in report.errors)
    # And at run time, past validation (a processor that runs what it is given).
    from dataflow_processors._sql import connection

    for statement, refusal in [
        (f"COPY (SELECT 1) TO '{target}'", "file system operations"),
        (f"ATTACH '{tmp_path / 'x.db'}' AS x", "file system operations"),
        ("LOAD httpfs", "disabled"),
        ("SET enable_external_access = true", "locked"),
    ]:
        with pytest.raises(Exception, match=refusal):
            connection().execute(statement)
    assert not target.exists()
    result = await run_flow(
        flow({"id": "q", "type": "sql", "config": {"query": "SELECT n * 2 AS n FROM input"}})
    )
    assert result.state == "completed"  # ordinary SQL over the batches still works


def test_an_edge_sample_where_cannot_read_files(tmp_path):
    settings = Settings(data_dir=str(tmp_path / "data"), **auth_settings())
    doc = flow({"id": "f", "type": "filter", "config": {"condition": "n >= 0"}})
    doc["id"] = "probe"
    doc["nodes"][0]["config"].update(count=0, rate=50, batch_size=10)  # runs until stopped
    with TestClient(app=create_app(settings)) as client:
        sign_in(client)
        assert client.post("/api/v1/flows", json=doc).status_code == 201
        assert client.post("/api/v1/flows/probe/start").status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            sample = client.get("/api/v1/flows/probe/edges/e1/sample").json()
            if sample["rows"]:
                break
            time.sleep(0.1)
        reply = client.get(
            "/api/v1/flows/probe/edges/e1/sample",
            params={"where": f"(SELECT count(*) FROM read_csv('{SECRET_FILE}')) > 0"},
        )
        assert reply.status_code == 400
        assert "file system operations are disabled" in reply.json()["detail"]
        client.post("/api/v1/flows/probe/stop?force=true")
