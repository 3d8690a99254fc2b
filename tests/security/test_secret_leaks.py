"""A secret's value never shows: not in an export, an event, a log line, an error (also
URL- or base64-encoded), a sample or a WebSocket message."""

from __future__ import annotations

import base64
import logging
import sqlite3
import time
from typing import Annotated
from urllib.parse import quote

import pyarrow as pa
import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.processor import ProcessorConfig, ProcessorSpec, Registry, Sink, ui
from dataflow.settings import Settings
from dataflow.testing import ListSource
from tests.auth import auth_settings, sign_in

VALUE = "s3cr3t:v@lue/with+chars"
FORMS = [VALUE, quote(VALUE, safe=""), base64.b64encode(VALUE.encode()).decode().rstrip("=")]


class LeakyConfig(ProcessorConfig, kw_only=True):
    token: Annotated[str, ui("Token", secret=True)] = ""


class Leaky(Sink[LeakyConfig]):
    """A careless plugin: logs its token and fails with it, encoded two ways."""

    spec = ProcessorSpec(name="leaky", category="sink", summary="t", inputs=("in",))

    def write(self, batch: pa.RecordBatch) -> None:
        token = self.config.token
        self.log.warning("connecting with %s", token)
        encoded = base64.b64encode(token.encode()).decode()
        raise ConnectionError(f"refused https://u:{quote(token, safe='')}@x (Basic {encoded})")


@pytest.fixture
def client(tmp_path):
    settings = Settings(data_dir=str(tmp_path / "data"), **auth_settings())
    with TestClient(app=create_app(settings, Registry([ListSource, Leaky]))) as client:
        sign_in(client)
        client.put("/api/v1/secrets/token", json={"value": VALUE})
        yield client


def leaky_flow() -> dict:
    return {
        "id": "leak",
        "name": "leak",
        "nodes": [
            {"id": "src", "type": "list_source", "config": {"rows": [{"a": 1}]}},
            {"id": "out", "type": "leaky", "config": {"token": {"secret": "token"}}},
        ],
        "edges": [{"id": "e", "source": "src", "target": "out"}],
    }


def shown(text: str) -> list[str]:
    return [form for form in FORMS if form in text]


def test_a_failing_run_never_shows_the_value_anywhere(client, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    assert client.post("/api/v1/flows", json=leaky_flow()).status_code == 201
    with client.websocket_connect("/api/v1/ws/flows/leak") as ws:
        client.post("/api/v1/flows/leak/start")
        messages = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = ws.receive_text()
            messages.append(message)
            if '"type":"error"' in message:
                break
    run = client.get("/api/v1/flows/leak/run").json()
    assert run["state"] == "failed"
    assert "refused https://u:***@x (Basic ***" in run["error"]
    places = {
        "run": client.get("/api/v1/flows/leak/run").text,
        "events": client.get("/api/v1/flows/leak/events").text,
        "export": client.get("/api/v1/flows/leak/export").text,
        "metrics": client.get("/api/v1/flows/leak/metrics").text,
        "websocket": "\n".join(messages),
        "logs": "\n".join(r.getMessage() for r in caplog.records),
    }
    for place, text in places.items():
        assert shown(text) == [], place
    assert "error" in places["websocket"]
    journal = sqlite3.connect(tmp_path / "data" / "journal.db")
    stored = b"".join(bytes(row[0]) for row in journal.execute("SELECT data FROM events"))
    stored += b"".join(r[0].encode() for r in journal.execute("SELECT metadata FROM events"))
    journal.close()
    assert [form for form in FORMS if form.encode() in stored] == []


def test_a_secret_cannot_be_routed_into_data_and_sampled(client):
    doc = {
        "id": "sampled",
        "name": "sampled",
        "nodes": [
            {
                "id": "src",
                "type": "list_source",
                "config": {"rows": [{"a": {"secret": "token"}}], "repeat": 0},
            },
            {"id": "out", "type": "leaky", "config": {}},
        ],
        "edges": [{"id": "e", "source": "src", "target": "out"}],
    }
    report = client.post("/api/v1/flows/validate", json=doc).json()
    assert {e["code"] for e in report["errors"]} == {"secret_not_allowed"}
    assert client.post("/api/v1/flows", json=doc).status_code == 201  # a draft is kept
    started = client.post("/api/v1/flows/sampled/start")
    assert started.status_code == 422
    assert shown(client.get("/api/v1/flows/sampled/edges/e/sample").text) == []
