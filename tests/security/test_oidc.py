"""Single sign-on through an OpenID Connect provider, tested against a small but real one this
test starts (discovery, authorization with PKCE, token endpoint, signed ID tokens, JWKS)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.settings import Settings
from tests.auth import auth_settings
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET


@pytest.fixture
def client(provider, tmp_path) -> Iterator[TestClient[Any]]:
    provider.claims, provider.tamper = {}, None
    settings = Settings(
        data_dir=str(tmp_path / "data"),
        oidc_issuer=provider.url,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        **auth_settings(),
    )
    with TestClient(app=create_app(settings)) as client:
        yield client


def sign_in_through(client: TestClient[Any], next_path: str = "/flows/x") -> httpx.Response:
    """The browser's trip: DataFlow -> provider -> DataFlow's callback."""
    start = client.get(
        "/api/v1/auth/oidc/login", params={"next": next_path}, follow_redirects=False
    )
    assert start.status_code == 302, start.text
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["location"])
    assert back.path == "/api/v1/auth/oidc/callback"
    params = {k: v[0] for k, v in parse_qs(back.query).items()}
    return client.get(back.path, params=params, follow_redirects=False)


def test_the_sign_in_page_learns_that_single_sign_on_is_there(client):
    assert client.get("/api/v1/auth/options").json() == {
        "password": True,
        "oidc": True,
        "oidc_name": "single sign-on",
    }


def test_a_provider_user_gets_a_session_with_the_role_the_provider_names(client, provider):
    provider.claims = {"sub": "u-1", "preferred_username": "alice", "dataflow_roles": ["editor"]}
    done = sign_in_through(client)
    assert done.status_code == 302 and done.headers["location"] == "/flows/x"
    cookie = done.headers["set-cookie"].lower()
    assert "dataflow_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    me = client.get("/api/v1/auth/me").json()
    assert (me["user"], me["role"], me["kind"]) == ("alice", "editor", "session")
    # The provider changes her role: the next sign-in follows it.
    provider.claims["dataflow_roles"] = "viewer"
    client.cookies.clear()
    sign_in_through(client)
    assert client.get("/api/v1/auth/me").json()["role"] == "viewer"


def test_without_a_role_claim_new_users_get_the_default_role(client, provider):
    provider.claims = {"sub": "u-2", "email": "bob@example.com"}
    sign_in_through(client)
    me = client.get("/api/v1/auth/me").json()
    assert (me["user"], me["role"], me["kind"]) == ("bob@example.com", "viewer", "session")


@pytest.mark.parametrize("tamper", ["nonce", "signature", "audience"])
def test_an_id_token_that_does_not_check_out_gives_no_session(client, provider, tamper):
    provider.claims, provider.tamper = {"sub": "mallory", "preferred_username": "mallory"}, tamper
    refused = sign_in_through(client)
    assert refused.status_code == 401
    assert "set-cookie" not in refused.headers
    assert client.get("/api/v1/auth/me").status_code == 401


def test_a_callback_is_used_once_and_never_redirects_off_site(client, provider):
    provider.claims = {"sub": "u-3", "preferred_username": "carol"}
    start = client.get(
        "/api/v1/auth/oidc/login", params={"next": "//evil.example/x"}, follow_redirects=False
    )
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    back = urlsplit(at_provider.headers["location"])
    params = {k: v[0] for k, v in parse_qs(back.query).items()}
    done = client.get(back.path, params=params, follow_redirects=False)
    assert done.headers["location"] == "/"  # not the other site
    client.cookies.clear()
    replay = client.get(back.path, params=params, follow_redirects=False)
    assert replay.status_code == 401 and "state" in replay.json()["detail"]


def test_without_a_provider_the_routes_say_so(tmp_path):
    settings = Settings(data_dir=str(tmp_path / "data"), **auth_settings())
    with TestClient(app=create_app(settings)) as client:
        assert client.get("/api/v1/auth/options").json()["oidc"] is False
        assert client.get("/api/v1/auth/oidc/login").status_code == 404


def test_a_half_configured_provider_or_certificate_is_a_clear_settings_error():
    import msgspec

    with pytest.raises(msgspec.ValidationError, match="oidc_client_id and oidc_client_secret"):
        Settings.from_env({"DATAFLOW_OIDC_ISSUER": "https://idp.example"})
    with pytest.raises(msgspec.ValidationError, match="tls_cert and tls_key go together"):
        Settings.from_env({"DATAFLOW_TLS_CERT": "cert.pem"})
