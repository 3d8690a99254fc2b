"""Single sign-on through an OpenID Connect provider, tested against a small but real one this
test starts (discovery, authorization with PKCE, token endpoint, signed ID tokens, JWKS)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from litestar import Litestar, Request, Response, get, post
from litestar.response import Redirect
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.settings import Settings
from tests.auth import auth_settings
from tests.server import free_port

CLIENT_ID, CLIENT_SECRET = "dataflow", "provider-shared-secret"


@dataclass
class Provider:
    url: str = ""
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
    )
    #: Claims of the next sign-in (the "user" who signs in at the provider).
    claims: dict[str, Any] = field(default_factory=dict)
    #: Tamper with the next ID token: "nonce", "signature" or "audience".
    tamper: str | None = None
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def app(self) -> Litestar:
        provider = self

        @get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": provider.url,
                "authorization_endpoint": f"{provider.url}/authorize",
                "token_endpoint": f"{provider.url}/token",
                "jwks_uri": f"{provider.url}/jwks",
            }

        @get("/jwks")
        async def jwks() -> dict[str, Any]:
            return KeySet([provider.key]).as_dict(private=False)

        @get("/authorize")
        async def authorize(request: Request[Any, Any, Any]) -> Redirect:
            q = request.query_params
            assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
            assert q["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            provider.codes[code] = dict(q)
            return Redirect(f"{q['redirect_uri']}?code={code}&state={q['state']}")

        @post("/token", status_code=200)
        async def token(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            auth = request.headers.get("authorization", "")
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            form = await request.form()
            asked = provider.codes.pop(form["code"], None)
            if auth != f"Basic {expected}" or asked is None:
                return Response({"error": "invalid_grant"}, status_code=400)
            digest = hashlib.sha256(form["code_verifier"].encode()).digest()
            if base64.urlsafe_b64encode(digest).decode().rstrip("=") != asked["code_challenge"]:
                return Response({"error": "invalid_grant"}, status_code=400)
            claims = {
                "iss": provider.url,
                "aud": CLIENT_ID,
                "exp": int(time.time()) + 300,
                "iat": int(time.time()),
                "nonce": asked["nonce"],
                **provider.claims,
            }
            key = provider.key
            if provider.tamper == "nonce":
                claims["nonce"] = "another login's"
            elif provider.tamper == "audience":
                claims["aud"] = "another client"
            elif provider.tamper == "signature":
                key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
            signed = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
            return Response({"id_token": signed, "access_token": "a", "token_type": "Bearer"})

        return Litestar([discovery, jwks, authorize, token])


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    found = Provider()
    port = free_port()
    found.url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(found.app(), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the provider did not start"
        time.sleep(0.02)
    yield found
    server.should_exit = True
    thread.join(10)


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
