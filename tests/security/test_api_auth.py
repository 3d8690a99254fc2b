"""Every route behind a login: tokens, sessions with CSRF, roles, sign-in limits."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.security import ROLES, below
from dataflow.settings import Settings
from tests.auth import ADMIN_PASSWORD, auth_settings, role_headers, sign_in, token_for

#: The only operations anyone may call without signing in. Ingest checks its callers itself:
#: the node's own credential, else a user's token (tests/connectors/test_http.py).
PUBLIC_OPERATIONS = {
    ("POST", "/api/v1/auth/login"),
    ("GET", "/health"),
    ("POST", "/api/v1/ingest/{flow_id}/{node_id}"),
    # Single sign-on: what the sign-in page offers, and the trip through the provider.
    ("GET", "/api/v1/auth/options"),
    ("GET", "/api/v1/auth/oidc/login"),
    ("GET", "/api/v1/auth/oidc/callback"),
}


@pytest.fixture
def app_settings(tmp_path) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), **auth_settings())


@pytest.fixture
def anonymous(app_settings):
    with TestClient(app=create_app(app_settings)) as client:
        yield client


@pytest.fixture
def admin(anonymous):
    sign_in(anonymous)
    return anonymous


def test_without_credentials_the_api_answers_401_with_a_problem_body(anonymous):
    reply = anonymous.get("/api/v1/flows")
    assert reply.status_code == 401
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert "sign in" in reply.json()["detail"]
    assert anonymous.get("/health").status_code == 200
    assert anonymous.get("/").status_code == 200  # the editor's page, to sign in on


def test_a_wrong_password_or_unknown_user_is_401_and_logged_for_admins(anonymous, admin):
    for name, password in (("admin", "not the password"), ("nobody", ADMIN_PASSWORD)):
        reply = anonymous.post("/api/v1/auth/login", json={"name": name, "password": password})
        assert reply.status_code == 401
        assert reply.json()["detail"] == "wrong user name or password"
    failures = admin.get("/api/v1/auth/failures").json()
    assert [f["user"] for f in failures][:2] == ["nobody", "admin"]


def test_sign_in_attempts_are_limited_per_client(tmp_path):
    settings = Settings(
        data_dir=str(tmp_path / "d"), **{**auth_settings(), "login_attempts_per_minute": 3}
    )
    with TestClient(app=create_app(settings)) as client:
        codes = [
            client.post("/api/v1/auth/login", json={"name": "admin", "password": "x"}).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        limited = client.post(
            "/api/v1/auth/login", json={"name": "admin", "password": ADMIN_PASSWORD}
        )
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_a_session_cookie_needs_its_csrf_token_on_unsafe_calls(anonymous):
    reply = anonymous.post("/api/v1/auth/login", json={"name": "admin", "password": ADMIN_PASSWORD})
    assert reply.status_code == 200
    cookie = reply.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    csrf = reply.json()["csrf_token"]
    assert anonymous.get("/api/v1/flows").status_code == 200  # reading needs no CSRF token
    doc = {"name": "x", "nodes": [], "edges": []}
    forged = anonymous.post("/api/v1/flows", json=doc)
    assert forged.status_code == 403 and "x-csrf-token" in forged.json()["detail"]
    assert (
        anonymous.post("/api/v1/flows", json=doc, headers={"X-CSRF-Token": "0" * 40}).status_code
        == 403
    )
    made = anonymous.post("/api/v1/flows", json=doc, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    assert anonymous.get("/api/v1/auth/me").json()["csrf_token"] == csrf
    anonymous.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert anonymous.get("/api/v1/flows").status_code == 401


def test_api_tokens_are_shown_once_listed_without_value_and_revocable(admin):
    made = admin.post("/api/v1/tokens", json={"name": "ci", "role": "operator"}).json()
    token = made["token"]
    listed = admin.get("/api/v1/tokens").json()
    assert [t["name"] for t in listed if t["name"] == "ci"] == ["ci"]
    assert all("token" not in t for t in listed)
    ci = {"Authorization": f"Bearer {token}"}
    me = admin.get("/api/v1/auth/me", headers=ci).json()
    assert (me["user"], me["role"], me["token_name"]) == ("admin", "operator", "ci")
    assert admin.post("/api/v1/flows", json={"name": "n"}, headers=ci).status_code == 403
    assert admin.delete(f"/api/v1/tokens/{made['id']}").status_code == 204
    assert admin.get("/api/v1/flows", headers=ci).status_code == 401


def test_a_token_cannot_mint_a_stronger_one(admin):
    token = admin.post("/api/v1/tokens", json={"name": "dash", "role": "viewer"}).json()["token"]
    viewer = {"Authorization": f"Bearer {token}"}
    reply = admin.post("/api/v1/tokens", json={"name": "up", "role": "admin"}, headers=viewer)
    assert reply.status_code == 403
    same = admin.post("/api/v1/tokens", json={"name": "same"}, headers=viewer).json()
    assert same["role"] == "viewer"


def test_users_are_managed_by_admins_only(admin):
    headers = role_headers(admin)
    created = admin.post(
        "/api/v1/users", json={"name": "dana", "password": "long enough", "role": "editor"}
    )
    assert created.status_code == 201
    assert admin.get("/api/v1/users", headers=headers["editor"]).status_code == 403
    bad = admin.post("/api/v1/users", json={"name": "e", "password": "short", "role": "viewer"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "password"
    clash = admin.post(
        "/api/v1/users", json={"name": "dana", "password": "long enough", "role": "viewer"}
    )
    assert clash.status_code == 409
    assert admin.patch("/api/v1/users/user-admin", json={"role": "viewer"}).status_code == 200
    last = admin.patch("/api/v1/users/admin", json={"role": "viewer"})
    assert last.status_code == 403 and "last admin" in last.json()["detail"]
    dana = token_for(admin, "dana", "long enough")
    assert admin.delete("/api/v1/users/dana").status_code == 204
    assert (
        admin.get("/api/v1/flows", headers={"Authorization": f"Bearer {dana}"}).status_code == 401
    )


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _concrete(path: str, op: dict[str, Any]) -> str:
    """The path with every parameter filled in by a value of its type."""
    kinds = {
        p["name"]: p.get("schema", {}).get("type")
        for p in op.get("parameters", [])
        if p.get("in") == "path"
    }
    return re.sub(r"\{([^}]+)\}", lambda m: "1" if kinds.get(m[1]) == "integer" else "x", path)


def test_every_operation_of_the_openapi_document_checks_who_calls(admin):
    """Walks the served document, so a new route without a guard fails here: 401 without
    credentials, 403 one role below the least one that gets through."""
    document = admin.get("/schema/openapi.json").json()
    operations = _operations(document)
    assert len(operations) > 30
    headers = role_headers(admin)
    public = set()
    for method, path, op in operations:
        url = _concrete(path, op)
        bare = admin.request(method, url, headers={"Authorization": ""}, json={})
        if bare.status_code != 401:
            public.add((method, path))
            continue
        assert bare.headers["content-type"].startswith("application/problem+json")
        let_in = [
            role
            for role in ROLES
            if admin.request(method, url, headers=headers[role], json={}).status_code != 403
        ]
        assert let_in, f"{method} {path}: even admin is refused"
        least = let_in[0]
        assert let_in == list(ROLES[ROLES.index(least) :]), f"{method} {path}: {let_in}"
        lower = below(least)
        if lower is not None:
            refused = admin.request(method, url, headers=headers[lower], json={})
            assert refused.status_code == 403, f"{method} {path} as {lower}: {refused.text}"
    assert public == PUBLIC_OPERATIONS


@pytest.mark.parametrize(
    ("method", "path", "least"),
    [
        ("GET", "/api/v1/flows", "viewer"),
        ("POST", "/api/v1/flows", "editor"),
        ("POST", "/api/v1/flows/x/start", "operator"),
        ("GET", "/api/v1/secrets", "editor"),
        ("PUT", "/api/v1/secrets/x", "admin"),
        ("GET", "/api/v1/users", "admin"),
        ("GET", "/api/v1/server/settings", "viewer"),
        ("PATCH", "/api/v1/server/settings", "admin"),
    ],
)
def test_the_roles_mean_what_the_docs_say(admin, method, path, least):
    headers = role_headers(admin)
    for role in ROLES:
        code = admin.request(method, path, headers=headers[role], json={}).status_code
        allowed = ROLES.index(role) >= ROLES.index(least)
        assert (code != 403) == allowed, f"{method} {path} as {role}: {code}"


def test_every_journal_event_names_who_caused_it(admin):
    ci = admin.post("/api/v1/tokens", json={"name": "ci", "role": "editor"}).json()["token"]
    doc = {
        "id": "audited",
        "name": "audited",
        "nodes": [
            {
                "id": "g",
                "type": "generate",
                "config": {"count": 5, "columns": [{"name": "n", "kind": "sequence"}]},
            },
            {"id": "out", "type": "console", "config": {}},
        ],
        "edges": [{"id": "e", "source": "g", "target": "out"}],
    }
    assert admin.post("/api/v1/flows", json=doc).status_code == 201
    renamed = admin.put(
        "/api/v1/flows/audited",
        json={"flow": {**doc, "name": "renamed"}, "expected_version": 1},
        headers={"Authorization": f"Bearer {ci}"},
    )
    assert renamed.status_code == 200, renamed.text
    assert admin.post("/api/v1/flows/audited/start").status_code == 200
    for _ in range(100):
        events = admin.get("/api/v1/flows/audited/events").json()
        if any(e["type"] == "RunCompleted" for e in events):
            break
        time.sleep(0.1)
    actors = {e["type"]: e["actor"] for e in events}
    assert actors["FlowCreated"] == "admin (token tests)"  # the sign-in fixture's token
    assert actors["FlowRenamed"] == "admin (token ci)"
    assert actors["RunStarted"] == "admin (token tests)"
    assert actors["RunCompleted"] == "dataflow"  # the run ended by itself
