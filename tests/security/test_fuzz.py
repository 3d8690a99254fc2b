"""Schemathesis against the served OpenAPI document: every operation, given valid and invalid
input, answers without a server error and as the document says (status, content type, body
schema, headers), and accepts what the document calls valid."""

from __future__ import annotations

import json
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dataflow.api import create_app
from dataflow.api.openapi import openapi_document
from dataflow.settings import Settings
from tests.api.conftest import orders_flow
from tests.auth import ADMIN_PASSWORD, auth_settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
#: What valid input may get besides success: a resource that is not there (or not in a state
#: for it), a flow whose graph does not validate (the document cannot say which processor types
#: exist), a save without If-Match, a user of a name taken. Never 400: valid input is not bad.
ACCEPTED_STATUSES = ["2xx", "401", "403", "404", "409", "422", "428", "429", "503"]
#: Examples per operation and kind: bounded so that the whole run stays near a minute.
EXAMPLES = 25
#: Signing out revokes the token every case is sent with (tests/security/test_api_auth.py
#: covers it).
EXCLUDED_OPERATIONS = frozenset({"logout"})
#: The signed-in admin: their user and token are never changed or deleted by the fuzzer.
ADMIN = "admin"
#: Resources that exist before every operation is fuzzed, so that cases reach past the 404.
FLOW = orders_flow()
SEEDED_FLOW: dict[str, Any] = {"id": "orders", "made": 0}
SEEDED_USER = "fuzz-user"
SEEDED_SECRET = "FUZZ_SECRET"
SEEDED_TOKEN = "fuzz-other"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("fuzz")
    options = {
        **auth_settings(),
        "allowed_hosts": [asgi.HOST],  # the Host that schemathesis's ASGI client sends
        "file_roots": [str(data)],  # fuzzed flows read and write nowhere else
    }
    yield create_app(Settings(data_dir=str(data / "data"), **options))
    asgi.shutdown_lifespans()  # started by the first call, then kept for the module


@pytest.fixture(scope="module")
def token(app) -> str:
    with asgi.get_client(app) as client:
        login = {"name": ADMIN, "password": ADMIN_PASSWORD, "token_name": "fuzz"}
        reply = client.post("/api/v1/auth/login", json=login)
        assert reply.status_code == 200, reply.text
        return reply.json()["token"]


@pytest.fixture(scope="module")
def served_schema(app, token):
    config = schemathesis.Config.from_dict(
        {"checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_STATUSES}}}
    )
    headers = {"Authorization": f"Bearer {token}"}
    return schemathesis.openapi.from_asgi(
        "/schema/openapi.json", app, config=config, headers=headers
    )


@pytest.fixture
def seeded(app, token) -> dict[str, Any]:
    """The seeded resources, made again where a case deleted them; their path parameters."""
    headers = {"Authorization": f"Bearer {token}"}
    with asgi.get_client(app) as client:
        client.headers.update(headers)
        flow_id = SEEDED_FLOW["id"]
        if client.get(f"/api/v1/flows/{flow_id}").status_code == 404:
            # A deleted flow's id stays taken (its history is kept): a new one.
            SEEDED_FLOW["made"] += 1
            SEEDED_FLOW["id"] = flow_id = f"{FLOW['id']}-{SEEDED_FLOW['made']}"
            created = client.post("/api/v1/flows", json={**FLOW, "id": flow_id})
            assert created.status_code == 201, created.text
        if client.get(f"/api/v1/users/{SEEDED_USER}").status_code == 404:
            user = {"name": SEEDED_USER, "password": "fuzz-password", "role": "editor"}
            assert client.post("/api/v1/users", json=user).status_code == 201
        secret = client.put(f"/api/v1/secrets/{SEEDED_SECRET}", json={"value": "s3cret"})
        assert secret.status_code in (201, 204)
        tokens = client.get("/api/v1/tokens").json()
        own = [t["id"] for t in tokens if t["name"] == "fuzz"]
        other = [t["id"] for t in tokens if t["name"] == SEEDED_TOKEN]
        if not other:
            other = [client.post("/api/v1/tokens", json={"name": SEEDED_TOKEN}).json()["id"]]
    return {
        "own_token": own[0],
        "flow_id": flow_id,
        "edge_id": FLOW["edges"][0]["id"],
        "node_id": FLOW["nodes"][0]["id"],
        "version": 1,
        "type_name": "filter",
        "token_id": other[0],
    }


def documented_cases() -> list[tuple[str, str]]:
    """(operation id, kind) for every operation of the document, as the server builds it (the
    test fuzzes the one it serves): `positive` and, where the operation takes input,
    `negative`; with path parameters also `seeded`, valid input on resources that exist."""
    document = json.loads(openapi_document(create_app()))
    cases = []
    for item in document["paths"].values():
        for method, op in item.items():
            if method not in {"get", "put", "post", "patch", "delete"}:
                continue
            if op["operationId"] in EXCLUDED_OPERATIONS:
                continue
            params = op.get("parameters", [])
            kinds = ["positive"]
            if params or "requestBody" in op:
                kinds.append("negative")
            if any(p["in"] == "path" for p in params):
                kinds.append("seeded")
            cases += [(op["operationId"], kind) for kind in kinds]
    return cases


@pytest.mark.parametrize(("operation_id", "kind"), documented_cases())
def test_every_operation_answers_as_documented(served_schema, token, seeded, operation_id, kind):
    """Positive cases follow the document; negative ones break it somewhere (a wrong type, a
    missing field, a pattern not matched) and must get a declared 4xx; seeded ones are
    positive on the flow, user, secret and token made beforehand."""
    operation = served_schema.find_operation_by_id(operation_id)
    mode = GenerationMode.NEGATIVE if kind == "negative" else GenerationMode.POSITIVE
    path_parameters = None
    if kind == "seeded":
        names = {p.name for p in operation.path_parameters}
        by_name = {**seeded, "name": SEEDED_SECRET if "secrets" in operation.path else SEEDED_USER}
        path_parameters = {name: by_name[name] for name in names}

    @given(case=operation.as_strategy(mode, path_parameters=path_parameters))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same cases on every run, so CI is repeatable
        database=None,
        phases=[Phase.generate],  # no shrinking: a failure is reported as found
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        parameters = case.path_parameters or {}
        if parameters.get("name") == ADMIN or parameters.get("token_id") == seeded["own_token"]:
            hypothesis.reject()
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    run()
