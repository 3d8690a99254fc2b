"""Input built to break the server gets a 4xx problem body, never a 500, and changes nothing."""

from __future__ import annotations

import json

import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.settings import Settings
from tests.auth import auth_settings, sign_in

JSON = {"Content-Type": "application/json"}
BAD_IDS = ["a\u0000b", "a/b", "..", "😀", "a\u0007", " lead", "x" * 65]


@pytest.fixture(scope="module")
def admin(tmp_path_factory):
    settings = Settings(data_dir=str(tmp_path_factory.mktemp("hostile")), **auth_settings())
    with TestClient(app=create_app(settings), raise_server_exceptions=False) as client:
        sign_in(client)
        yield client


def problem(reply, status: int) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    return reply.json()


def deep(levels: int) -> bytes:
    config = "{" + '"a":{' * levels + "}" * levels + "}"
    return ('{"name":"x","nodes":[{"id":"n","type":"filter","config":' + config + "}]}").encode()


@pytest.mark.parametrize(
    "path", ["/api/v1/flows", "/api/v1/flows/validate", "/api/v1/flows/import"]
)
def test_bodies_that_are_not_utf8_or_nest_too_deep_are_400_or_422(admin, path):
    assert (
        "UTF-8"
        in problem(admin.post(path, content=b'{"name": "\xff"}', headers=JSON), 400)["detail"]
    )
    too_deep = admin.post(path, content=deep(1500), headers=JSON)
    assert too_deep.status_code in (400, 422), too_deep.text
    reply = admin.post(path, content=deep(100), headers=JSON)
    body = reply.json()
    if path.endswith("validate"):
        assert body["errors"][0]["code"] == "too_deep"
    else:
        assert problem(reply, 422)["errors"][0]["code"] == "too_deep"


@pytest.mark.parametrize("bad", BAD_IDS)
def test_flow_ids_that_cannot_name_a_stream_or_url_are_422_at_the_id(admin, bad):
    for path in ("/api/v1/flows", "/api/v1/flows/import"):
        reply = admin.post(path, content=json.dumps({"id": bad, "name": "x"}), headers=JSON)
        body = problem(reply, 422)
        assert body["errors"][0]["path"] == "id"
    node = {"name": "x", "nodes": [{"id": bad, "type": "filter"}]}
    assert (
        problem(admin.post("/api/v1/flows", json=node), 422)["errors"][0]["path"] == "nodes[0].id"
    )
    assert admin.get("/api/v1/flows").json() == []


@pytest.mark.parametrize("bad", ["a%00b", "%F0%9F%98%80", "a%07", "..%2F.."])
def test_bad_ids_in_paths_are_404(admin, bad):
    for method, path in [
        ("GET", f"/api/v1/flows/{bad}"),
        ("GET", f"/api/v1/flows/{bad}/versions"),
        ("POST", f"/api/v1/flows/{bad}/start"),
        ("DELETE", f"/api/v1/flows/{bad}"),
        ("GET", f"/api/v1/processors/{bad}"),
    ]:
        assert admin.request(method, path).status_code == 404, (method, path)


def test_a_wrong_method_is_405_with_allow(admin):
    reply = admin.delete("/api/v1/flows")
    body = problem(reply, 405)
    assert body["status"] == 405
    assert "GET" in reply.headers["allow"] and "POST" in reply.headers["allow"]
