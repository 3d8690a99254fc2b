"""Flows touch only the server's file roots: a path outside them (after `..` and symlinks)
is a validation error on the field, and is refused again when the run opens it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.graph import check_document
from dataflow.processor import default_registry
from dataflow.processor.reach import Reach
from dataflow.settings import Settings
from tests.auth import auth_settings, sign_in


@pytest.fixture
def roots(tmp_path) -> tuple[Path, Path, Reach]:
    inside, outside = tmp_path / "root", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    (outside / "secret.csv").write_text("password\nhunter2\n")
    (inside / "ok.csv").write_text("n\n1\n")
    os.symlink(outside, inside / "escape")
    return inside, outside, Reach(file_roots=(inside,))


def read_flow(path: str) -> dict:
    return {
        "name": "r",
        "nodes": [
            {"id": "r", "type": "read_file", "config": {"path": path}},
            {"id": "out", "type": "console", "config": {}},
        ],
        "edges": [{"id": "e", "source": "r", "target": "out"}],
    }


def write_flow(directory: str) -> dict:
    return {
        "name": "w",
        "nodes": [
            {
                "id": "g",
                "type": "generate",
                "config": {"count": 3, "columns": [{"name": "n", "kind": "sequence"}]},
            },
            {"id": "w", "type": "write_file", "config": {"directory": directory}},
        ],
        "edges": [{"id": "e", "source": "g", "target": "w"}],
    }


def lookup_flow(path: str) -> dict:
    doc = read_flow("unused")
    doc["nodes"] = [
        {
            "id": "g",
            "type": "generate",
            "config": {"count": 3, "columns": [{"name": "n", "kind": "sequence"}]},
        },
        {
            "id": "j",
            "type": "lookup_join",
            "config": {"key_columns": ["n"], "reference": {"kind": "file", "path": path}},
        },
        {"id": "out", "type": "console", "config": {}},
    ]
    doc["edges"] = [
        {"id": "e1", "source": "g", "target": "j"},
        {"id": "e2", "source": "j", "source_port": "matched", "target": "out"},
    ]
    return doc


def errors(doc: dict, reach: Reach) -> dict[str, str]:
    report = check_document(doc, default_registry(), reach=reach).report
    return {e.path: e.message for e in report.errors if "file roots" in e.message}


def test_paths_outside_the_roots_are_errors_naming_the_field(roots):
    inside, outside, reach = roots
    cases = {
        "nodes[0].config.path": read_flow(str(outside / "secret.csv")),
        "nodes[0].config.path#dotdot": read_flow(f"{inside}/../elsewhere/*.csv"),
        "nodes[0].config.path#symlink": read_flow(str(inside / "escape" / "secret.csv")),
        "nodes[0].config.path#etc": read_flow("/etc/passwd"),
        "nodes[1].config.directory": write_flow(str(outside)),
        "nodes[1].config.reference.path": lookup_flow(str(outside / "secret.csv")),
    }
    for key, doc in cases.items():
        found = errors(doc, reach)
        field = key.split("#")[0]
        assert field in found, (key, found)
        assert "outside the server's file roots" in found[field]
    assert errors(read_flow(str(inside / "*.csv")), reach) == {}
    assert errors(write_flow(str(inside / "out")), reach) == {}


def test_validation_does_not_show_a_line_of_a_file_outside_the_roots(roots):
    _, outside, reach = roots
    report = check_document(read_flow(str(outside / "secret.csv")), default_registry(), reach=reach)
    assert "r" not in report.report.schemas  # no column names read from the file
    assert "hunter2" not in str(report.report.errors)
    assert "password" not in str([e.message for e in report.report.errors])


async def test_processors_refuse_them_again_when_they_open_the_file(roots):
    from dataflow.processor import Context
    from dataflow_processors.read_file import ReadFile
    from dataflow_processors.write_file import WriteFile

    inside, outside, reach = roots
    context = Context(node_id="n", run_id="r", reach=reach)
    # A glob rooted inside whose match leads out through a symlink.
    reader = ReadFile(ReadFile.parse_config({"path": f"{inside}/*/*.csv"}), context)
    with pytest.raises(PermissionError, match="outside the server's file roots"):
        reader.files()
    writer = WriteFile(WriteFile.parse_config({"directory": str(outside / "out")}), context)
    with pytest.raises(PermissionError, match="outside the server's file roots"):
        await writer.open()
    assert not (outside / "out").exists()
    # Validation reports the escaping match too, on the field.
    found = errors(read_flow(f"{inside}/*/*.csv"), reach)
    assert "outside the server's file roots" in found["nodes[0].config.path"]


def test_the_server_defaults_to_its_data_and_flowfiles_directories(tmp_path):
    settings = Settings(data_dir=str(tmp_path / "data"), flowfiles_dir=str(tmp_path / "flows"))
    assert settings.reach().file_roots == (
        (tmp_path / "data").resolve(),
        (tmp_path / "flows").resolve(),
    )
    from_env = Settings.from_env({"DATAFLOW_FILE_ROOTS": "/srv/in,/srv/out"})
    assert from_env.reach().file_roots == (Path("/srv/in"), Path("/srv/out"))


def test_the_api_reports_a_path_outside_the_roots_and_refuses_to_start_it(tmp_path):
    settings = Settings(
        data_dir=str(tmp_path / "data"),
        **{**auth_settings(), "file_roots": [str(tmp_path / "data")]},
    )
    with TestClient(app=create_app(settings)) as client:
        sign_in(client)
        doc = read_flow("/etc/passwd") | {"id": "probe"}
        report = client.post("/api/v1/flows/validate", json=doc).json()
        assert report["errors"][0]["code"] == "not_allowed"
        assert "root:" not in str(report)
        assert client.post("/api/v1/flows", json=doc).status_code == 201  # a draft may be saved
        started = client.post("/api/v1/flows/probe/start")
        assert started.status_code == 422
        assert started.json()["errors"][0]["path"] == "nodes[0].config.path"
