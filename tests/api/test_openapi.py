"""The OpenAPI document is the contract: complete, true to the wire, and what the editor's
generated types were made from."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from dataflow.api import create_app
from dataflow.api.openapi import LIVE_MESSAGE_COMPONENT, openapi_document
from dataflow.events.run_events import RunStatus
from dataflow.runtime.live import ErrorMessage, StateMessage
from tests.api.conftest import orders_flow

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "frontend" / "src" / "api" / "schema.gen.ts"
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def test_every_operation_has_a_snake_case_id_and_a_typed_response(document):
    ids = []
    for name, operation in operations(document):
        op_id = operation.get("operationId", "")
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", op_id), f"{name}: operationId {op_id!r}"
        ids.append(op_id)
        # Redirects (single sign-on's trip through the provider) succeed with a 302.
        success = {k: v for k, v in operation["responses"].items() if k.startswith(("2", "3"))}
        assert success, f"{name}: no 2xx or 3xx response"
        for status, response in success.items():
            for media, content in response.get("content", {}).items():
                if "json" not in media:
                    continue
                schema = content.get("schema", {})
                bare = schema.get("type") == "object" and not schema.get("properties")
                assert schema and not bare, f"{name} {status} {media}: untyped {schema}"
                assert schema.get("type") != "null", f"{name} {status}: a JSON null body"
    assert len(ids) == len(set(ids))
    assert {"list_flows", "get_flow", "start_run", "get_run_metrics", "sample_edge"} <= set(ids)


def test_the_live_messages_are_a_tagged_union_component(document):
    schemas = document["components"]["schemas"]
    union = schemas[LIVE_MESSAGE_COMPONENT]
    mapping = union["discriminator"]["mapping"]
    assert union["discriminator"]["propertyName"] == "type"
    assert set(mapping) == {"state", "metrics", "error"}
    for ref in mapping.values():
        assert ref.rsplit("/", 1)[-1] in schemas
    # What the socket sends has the fields the document promises.
    run = RunStatus(run_id="r1", flow_id="f", flow_version=1)
    for message in (StateMessage(run=run), ErrorMessage(message="boom")):
        wire = msgspec.json.decode(msgspec.json.encode(message))
        component = schemas[mapping[wire["type"]].rsplit("/", 1)[-1]]
        assert set(component["required"]) <= set(wire), component["title"]


def test_required_fields_are_on_the_wire(client, document):
    """Responses carry every field of a struct, and the document says so (the generated
    TypeScript relies on it); structs that omit defaults keep those fields optional."""
    schemas = document["components"]["schemas"]
    created = client.post("/api/v1/flows", json=orders_flow()).json()
    report = client.post("/api/v1/flows/validate", json=orders_flow()).json()
    checks = [
        ("FlowEnvelope", created),
        ("Flow", created["flow"]),
        ("Node", created["flow"]["nodes"][0]),
        ("Edge", created["flow"]["edges"][0]),
        ("FlowSettings", created["flow"]["settings"]),
        ("ValidationReport", report),
        ("RunStatus", client.get("/api/v1/flows/orders/run").json()),
        ("FlowMetrics", client.get("/api/v1/flows/orders/metrics").json()),
    ]
    for name, body in checks:
        assert set(schemas[name]["required"]) == set(body), name
    assert set(schemas["Flow"]["required"]) >= {"nodes", "edges", "settings", "description"}
    assert "severity" not in schemas["Issue"].get("required", [])  # omitted when "error"
    assert report["ports"]["paid"] == {"inputs": ["in"], "outputs": ["matched", "unmatched"]}


def test_the_cli_writes_the_served_document(document, tmp_path):
    assert json.loads(openapi_document(create_app())) == document
    out = tmp_path / "openapi.json"
    dataflow = Path(sys.executable).with_name("dataflow")
    subprocess.run([str(dataflow), "openapi", "-o", str(out)], check=True, timeout=120)
    assert json.loads(out.read_bytes()) == document


def test_the_generated_typescript_is_current(tmp_path):
    """frontend/src/api/schema.gen.ts is what openapi-typescript makes of the document now;
    regenerate it with `make api-types` (or `npm run gen:api` in frontend/)."""
    generator = ROOT / "frontend" / "node_modules" / ".bin" / "openapi-typescript"
    assert generator.exists(), "frontend/node_modules is missing: run `cd frontend && npm ci`"
    assert shutil.which("bash")
    fresh = tmp_path / "schema.gen.ts"
    env = {**os.environ, "DATAFLOW": str(Path(sys.executable).with_name("dataflow"))}
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "gen-api-types.sh"), str(fresh)],
        check=True,
        env=env,
        timeout=300,
    )
    assert fresh.read_text() == GENERATED.read_text(), (
        "frontend/src/api/schema.gen.ts is stale: run `make api-types` and commit it"
    )
