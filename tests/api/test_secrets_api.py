"""Secrets: write-only over the API, encrypted at rest, referenced by name, resolved only
when a run starts, never in the journal, exports or errors."""

from __future__ import annotations

import time
from typing import Annotated, ClassVar

import pyarrow as pa
import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.processor import ProcessorConfig, ProcessorSpec, Registry, Sink, ui
from dataflow.testing import ListSource
from dataflow_processors.filter import Filter
from tests.auth import sign_in


class VaultConfig(ProcessorConfig, kw_only=True):
    """Records the token it was given."""

    token: Annotated[str, ui("Token", secret=True)] = ""


class Vault(Sink[VaultConfig]):
    spec = ProcessorSpec(name="vault", category="sink", summary="test", inputs=("in",))
    seen: ClassVar[list[str]] = []

    def write(self, batch: pa.RecordBatch) -> None:
        Vault.seen.append(self.config.token)


@pytest.fixture
def client(settings):
    Vault.seen.clear()
    with TestClient(app=create_app(settings, Registry([ListSource, Filter, Vault]))) as client:
        sign_in(client)
        yield client


def flow(token) -> dict:
    return {
        "id": "vaulted",
        "name": "Vaulted",
        "nodes": [
            {"id": "src", "type": "list_source", "config": {"rows": [{"a": 1}]}},
            {"id": "out", "type": "vault", "config": {"token": token}},
        ],
        "edges": [{"id": "e1", "source": "src", "target": "out"}],
    }


def test_values_are_write_only_and_encrypted_at_rest(client, settings):
    assert (
        client.put("/api/v1/secrets/api-token", json={"value": "s3cr3t-value"}).status_code == 201
    )
    assert (
        client.put("/api/v1/secrets/api-token", json={"value": "s3cr3t-value2"}).status_code == 204
    )
    listed = client.get("/api/v1/secrets")
    assert [s["name"] for s in listed.json()] == ["api-token"]
    assert "s3cr3t" not in listed.text
    stored = (settings.data_path / "secrets.json").read_bytes()
    assert b"s3cr3t" not in stored and b"api-token" in stored
    assert client.delete("/api/v1/secrets/api-token").status_code == 204
    assert client.delete("/api/v1/secrets/api-token").status_code == 404


def test_invalid_secret_name_is_refused(client):
    response = client.put("/api/v1/secrets/bad%20name", json={"value": "x"})
    assert response.status_code == 400


def test_a_clear_value_in_a_secret_field_is_refused_and_nothing_stored(client):
    response = client.post("/api/v1/flows", json=flow("hunter2"))
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["path"], error["code"]) == ("nodes[1].config.token", "secret_in_clear")
    assert "hunter2" not in response.text
    assert client.get("/api/v1/flows").json() == []


def test_unknown_secret_is_a_validation_error_and_blocks_the_start(client):
    assert client.post("/api/v1/flows", json=flow({"secret": "nope"})).status_code == 201
    report = client.get("/api/v1/flows/vaulted/validation").json()
    assert [(e["path"], e["code"]) for e in report["errors"]] == [
        ("nodes[1].config.token", "unknown_secret")
    ]
    assert client.post("/api/v1/flows/vaulted/start").status_code == 422


def test_the_run_gets_the_value_and_nothing_else_ever_shows_it(client):
    client.put("/api/v1/secrets/api-token", json={"value": "s3cr3t-value"})
    assert client.post("/api/v1/flows", json=flow({"secret": "api-token"})).status_code == 201
    client.post("/api/v1/flows/vaulted/start")
    deadline = time.monotonic() + 10
    while client.get("/api/v1/flows/vaulted/run").json()["state"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert Vault.seen == ["s3cr3t-value"]
    for path in (
        "/api/v1/flows/vaulted",
        "/api/v1/flows/vaulted/export",
        "/api/v1/flows/vaulted/events",
        "/api/v1/flows/vaulted/metrics",
    ):
        assert "s3cr3t" not in client.get(path).text, path
    assert '"secret": "api-token"' in client.get("/api/v1/flows/vaulted/export").text


def test_catalog_publishes_secret_fields_as_references(client):
    vault = client.get("/api/v1/processors/vault").json()
    token = vault["config_schema"]["properties"]["token"]
    assert token["anyOf"] == [{"$ref": "#/$defs/SecretRef"}, {"type": "null"}]
    assert vault["config_schema"]["$defs"]["SecretRef"]["required"] == ["secret"]
    assert vault["ui_schema"]["token"]["x-secret"] is True


def test_secret_values_are_masked_in_logs(client, caplog):
    import logging

    client.put("/api/v1/secrets/api-token", json={"value": "s3cr3t-value"})
    logging.getLogger("dataflow.run.node").error("cannot connect with token %s", "s3cr3t-value")
    messages = [r.getMessage() for r in caplog.records if r.name == "dataflow.run.node"]
    assert messages == ["cannot connect with token ***"]
