"""What a hostile page or a rebound DNS name cannot do: send forms to JSON routes, reach the
server under another name, open the live WebSocket, or frame the editor."""

from __future__ import annotations

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.settings import Settings
from tests.auth import auth_settings, sign_in


@pytest.fixture
def admin(tmp_path):
    settings = Settings(data_dir=str(tmp_path / "data"), **auth_settings())
    with TestClient(app=create_app(settings)) as client:
        sign_in(client)
        yield client


def test_a_form_post_to_a_json_route_is_415_and_creates_nothing(admin):
    body = '{"name": "x", "nodes": [], "edges": []}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        reply = admin.post("/api/v1/flows", content=body, headers={"Content-Type": content_type})
        assert reply.status_code == 415, content_type
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert content_type.split(";")[0] in reply.json()["detail"]
    assert admin.get("/api/v1/flows").json() == []
    made = admin.post(
        "/api/v1/flows", content=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert made.status_code == 201


def test_a_host_the_server_does_not_answer_to_is_refused(admin):
    rebound = admin.get("/api/v1/flows", headers={"Host": "attacker.example"})
    assert rebound.status_code == 400
    assert admin.get("/api/v1/flows", headers={"Host": "localhost:8080"}).status_code == 200


def test_the_server_names_and_environment_list_the_allowed_hosts():
    settings = Settings.from_env(
        {"DATAFLOW_ALLOWED_HOSTS": "flows.example.com, flows.internal:8443"}, host="10.1.2.3"
    )
    assert {"flows.example.com", "flows.internal:8443", "10.1.2.3", "localhost"} <= set(
        settings.host_names
    )
    assert "0.0.0.0" not in Settings(host="0.0.0.0").host_names


def test_every_answer_carries_security_headers(admin):
    for path in ("/", "/api/v1/flows", "/api/v1/nope"):
        headers = admin.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
    assert (
        "access-control-allow-origin"
        not in admin.get("/api/v1/flows", headers={"Origin": "http://evil.example"}).headers
    )


def test_the_websocket_refuses_other_origins_and_anonymous_clients(admin):
    admin.post("/api/v1/flows", json={"id": "f", "name": "f", "nodes": [], "edges": []})
    token = admin.headers["Authorization"]
    with (
        pytest.raises(WebSocketDisconnect),
        admin.websocket_connect(
            "/api/v1/ws/flows/f",
            headers={"Origin": "http://evil.example", "Authorization": token},
        ) as ws,
    ):
        ws.receive_text()
    anonymous = {"Authorization": ""}
    with (
        pytest.raises(WebSocketDisconnect),
        admin.websocket_connect("/api/v1/ws/flows/f", headers=anonymous) as ws,
    ):
        ws.receive_text()
    own = {"Origin": "http://testserver.local", "Authorization": token}
    with admin.websocket_connect("/api/v1/ws/flows/f", headers=own) as ws:
        ws.send_text("hello")  # connected: the handshake went through
