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


def test_routes_declare_the_errors_they_answer_as_problems(document):
    """Each route's error statuses, the shared ones (400, 401, 403, 413, 415, 431) included, and
    every one of them is a Problem in application/problem+json."""
    declared = {name: set(op["responses"]) for name, op in operations(document)}
    expect = {
        "POST /api/v1/auth/login": {"200", "400", "431", "401", "413", "415", "429"},
        "GET /api/v1/auth/me": {"200", "400", "431", "401"},
        "GET /api/v1/flows/{flow_id}": {"200", "400", "431", "401", "404"},
        "PUT /api/v1/flows/{flow_id}": {
            *("200", "400", "431", "401", "403", "404", "409", "413", "415", "422", "428", "503"),
        },
        "POST /api/v1/flows/{flow_id}/start": {
            *("200", "400", "431", "401", "403", "404", "409", "415", "422", "503"),
        },
        "DELETE /api/v1/users/{name}": {"204", "400", "431", "401", "403", "404"},
        "PUT /api/v1/secrets/{name}": {"201", "204", "400", "431", "401", "403", "413", "415"},
        "GET /health": {"200", "400", "431", "503"},
    }
    for name, statuses in expect.items():
        assert declared[name] == statuses, name
    for name, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or name == "GET /health":  # health's 503 is its own body
                continue
            content = response.get("content", {})
            assert list(content) == ["application/problem+json"], f"{name} {status}"
            ref = content["application/problem+json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Problem", f"{name} {status}"
            assert response["description"], f"{name} {status}"
    assert "Problem" in document["components"]["schemas"]


def test_public_routes_need_no_credential_and_the_others_say_which(document):
    assert document["security"] == [{"bearer": []}, {"session": []}]
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["session"]["in"] == "cookie"
    public = {name for name, op in operations(document) if op.get("security") == []}
    assert public == {
        "POST /api/v1/auth/login",
        "GET /health",
        # What the sign-in page offers, and single sign-on's trip through the provider.
        "GET /api/v1/auth/options",
        "GET /api/v1/auth/oidc/login",
        "GET /api/v1/auth/oidc/callback",
    }


def test_flow_bodies_are_described_by_the_published_flow_schema(client, document):
    """The bodies that handlers take as plain JSON (to report every structural error
    themselves) are the flow document, as /api/v1/schema/flow.json has it."""
    schemas = document["components"]["schemas"]
    for name in ("POST /api/v1/flows", "POST /api/v1/flows/import", "POST /api/v1/flows/validate"):
        body = dict(operations(document))[name]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": "#/components/schemas/FlowInput"}, name
    save = dict(operations(document))["PUT /api/v1/flows/{flow_id}"]
    refs = save["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    assert {r["$ref"].rsplit("/", 1)[1] for r in refs} == {"FlowInput", "SaveFlowRequest"}
    assert any(p["name"] == "If-Match" and p["in"] == "header" for p in save["parameters"])
    published = client.get("/api/v1/schema/flow.json").json()["$defs"]
    for name, schema in published.items():
        as_input = json.dumps(schemas[f"{name}Input"]).replace("Input", "")
        assert json.loads(as_input) == json.loads(
            json.dumps(schema).replace("#/$defs/", "#/components/schemas/")
        ), name
    assert schemas["NodeInput"]["properties"]["config"]["type"] == "object"  # free-form


def test_secret_names_carry_their_pattern(document):
    from dataflow.secrets import NAME_PATTERN

    for name in ("PUT /api/v1/secrets/{name}", "DELETE /api/v1/secrets/{name}"):
        (param,) = dict(operations(document))[name]["parameters"]
        assert param["in"] == "path" and param["schema"]["pattern"] == NAME_PATTERN, name
