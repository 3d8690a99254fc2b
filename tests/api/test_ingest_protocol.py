"""The ingest endpoint serves any source implementing dataflow.processor.Ingest, not only
http_listen: a plugin's own source here, with its own body format and limits."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import msgspec
import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.processor import BackPressured, Ingest, Source
from dataflow.testing import registry_with
from tests.auth import sign_in
from tests.server import ROOT

EXAMPLE = ROOT / "docs" / "examples" / "line_push.py"


def load_example() -> ModuleType:
    """docs/examples/line_push.py, the plugin source docs/writing-processors.md shows."""
    spec = importlib.util.spec_from_file_location("line_push", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["line_push"] = module  # msgspec resolves the config's annotations there
    spec.loader.exec_module(module)
    return module


LinePush = load_example().LinePush


class BusyPush(LinePush):
    """Always back-pressured, and asks for a wait of its own."""

    spec = msgspec.structs.replace(LinePush.spec, name="busy_push")

    async def ingest(self, body: bytes, content_type: str) -> int:
        raise BackPressured(retry_after_seconds=7)


def flow(flow_id: str, kind: str = "line_push", **config) -> dict:
    return {
        "id": flow_id,
        "name": flow_id,
        "nodes": [
            {"id": "in", "type": kind, "config": config},
            {"id": "out", "type": "list_sink"},
        ],
        "edges": [{"id": "e", "source": "in", "target": "out"}],
    }


@pytest.fixture
def client(settings):
    with TestClient(app=create_app(settings, registry_with(LinePush, BusyPush))) as client:
        sign_in(client)
        yield client


def start(client: TestClient, doc: dict) -> None:
    assert client.post("/api/v1/flows", json=doc).status_code == 201
    assert client.post(f"/api/v1/flows/{doc['id']}/start").json()["state"] == "running"


def test_the_protocol_is_structural():
    assert issubclass(LinePush, Ingest)
    assert not issubclass(Source, Ingest)


def test_a_plugin_source_takes_records_from_the_ingest_endpoint(client):
    start(client, flow("lines"))
    answer = client.post("/api/v1/ingest/lines/in", content=b"one\ntwo")
    assert (answer.status_code, answer.json()) == (202, {"accepted": 2})
    assert client.post("/api/v1/flows/lines/stop").json()["state"] == "stopped"
    engine = client.app.state.services.runs.engine("lines")
    assert engine.processor("out").rows == [{"line": "one"}, {"line": "two"}]


def test_the_plugin_errors_map_to_the_endpoint_status_codes(client):
    start(client, flow("errors", max_lines=3))
    bad = client.post("/api/v1/ingest/errors/in", content=b"ok\nb\x07d")
    assert bad.status_code == 400
    assert bad.json()["errors"] == [
        {"code": "invalid_json", "message": "a control character", "path": "line 2", "line": 2}
    ]
    too_many = client.post("/api/v1/ingest/errors/in", content=b"a\nb\nc\nd")
    assert too_many.status_code == 413 and "at most 3" in too_many.json()["detail"]
    not_ingest = client.post("/api/v1/ingest/errors/out", content=b"a")
    assert not_ingest.status_code == 404
    assert "has no busy_push or line_push node 'out'" in not_ingest.json()["detail"]


def test_back_pressure_from_a_plugin_says_when_to_retry(client):
    start(client, flow("busy", "busy_push"))
    answer = client.post("/api/v1/ingest/busy/in", content=b"a")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert "send again after 7 s" in answer.json()["detail"]
