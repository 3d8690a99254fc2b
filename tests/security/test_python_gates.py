"""The `python` processor's two gates: --allow-python on the server, and an admin enabling
it at run time (a journal event, so it survives restarts). Validation and run start refuse a
python node while either is closed, naming the node and the closed gate."""

from __future__ import annotations

import time

import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.settings import Settings
from tests.auth import auth_settings, role_headers, sign_in

CODE = "def transform(table):\n    return table\n"


def python_flow() -> dict:
    return {
        "id": "code",
        "name": "Code",
        "nodes": [
            {
                "id": "gen",
                "type": "generate",
                "config": {"count": 10, "columns": [{"name": "n", "kind": "sequence"}]},
            },
            {"id": "user_code", "type": "python", "config": {"code": CODE}},
            {"id": "out", "type": "console", "config": {}},
        ],
        "edges": [
            {"id": "e1", "source": "gen", "target": "user_code"},
            {"id": "e2", "source": "user_code", "target": "out"},
        ],
    }


def settings_for(tmp_path, allow_python: bool) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), allow_python=allow_python, **auth_settings())


@pytest.fixture
def admin(tmp_path):
    with TestClient(app=create_app(settings_for(tmp_path, allow_python=True))) as client:
        sign_in(client)
        yield client


def python_errors(client) -> list[dict]:
    report = client.get("/api/v1/flows/code/validation").json()
    return [e for e in report["errors"] if e["code"] == "python_disabled"]


def wait_for_state(client, flow_id: str, wanted: str) -> None:
    deadline = time.monotonic() + 20
    while client.get(f"/api/v1/flows/{flow_id}/run").json()["state"] != wanted:
        assert time.monotonic() < deadline, f"flow {flow_id} never {wanted}"
        time.sleep(0.05)


def test_python_is_off_until_an_admin_enables_it_and_stays_as_set_after_a_restart(tmp_path):
    settings = settings_for(tmp_path, allow_python=True)
    with TestClient(app=create_app(settings)) as client:
        sign_in(client)
        body = client.get("/api/v1/server/settings").json()
        assert (body["allow_python"], body["python_enabled"]) == (True, False)
        assert body["python_available"] is False
        assert client.post("/api/v1/flows", json=python_flow()).status_code == 201

        [error] = python_errors(client)
        assert error["node_id"] == "user_code"
        assert "'user_code'" in error["message"]
        assert "an admin has not enabled it" in error["message"]
        refused = client.post("/api/v1/flows/code/start")
        assert refused.status_code == 422
        assert "an admin has not enabled it" in refused.text

        enabled = client.patch("/api/v1/server/settings", json={"python_enabled": True})
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["python_available"] is True
        assert enabled.json()["changed_by"] == "admin (token tests)"
        assert python_errors(client) == []
        started = client.post("/api/v1/flows/code/start")
        assert started.status_code == 200, started.text
        wait_for_state(client, "code", "completed")

    with TestClient(app=create_app(settings)) as client:  # the same journal, restarted
        sign_in(client)
        assert client.get("/api/v1/server/settings").json()["python_enabled"] is True
        assert python_errors(client) == []
        off = client.patch("/api/v1/server/settings", json={"python_enabled": False})
        assert off.json()["python_available"] is False
        assert len(python_errors(client)) == 1


def test_the_server_flag_is_a_gate_an_admin_cannot_open(tmp_path):
    with TestClient(app=create_app(settings_for(tmp_path, allow_python=False))) as client:
        sign_in(client)
        refused = client.patch("/api/v1/server/settings", json={"python_enabled": True})
        assert refused.status_code == 409
        assert "--allow-python" in refused.json()["detail"]
        assert client.get("/api/v1/server/settings").json()["python_enabled"] is False
        client.post("/api/v1/flows", json=python_flow())
        [error] = python_errors(client)
        assert "not started with --allow-python" in error["message"]
        report = client.post("/api/v1/flows/validate", json=python_flow()).json()
        assert [e["node_id"] for e in report["errors"]] == ["user_code"]
        started = client.post("/api/v1/flows/code/start")
        assert started.status_code == 422 and "--allow-python" in started.text


def test_only_admins_change_server_settings_and_viewers_read_them(admin):
    headers = role_headers(admin)
    assert admin.get("/api/v1/server/settings", headers=headers["viewer"]).status_code == 200
    for role in ("viewer", "operator", "editor"):
        reply = admin.patch(
            "/api/v1/server/settings", json={"python_enabled": True}, headers=headers[role]
        )
        assert reply.status_code == 403, role
    assert admin.get("/api/v1/server/settings").json()["python_enabled"] is False
    unknown = admin.patch("/api/v1/server/settings", json={"python": True})
    assert unknown.status_code == 400
