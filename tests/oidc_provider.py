"""A small but real OpenID Connect provider for tests: discovery, authorization with PKCE, a
token endpoint, ID tokens signed with a key of its own, and its JWKS. It signs in whoever
its `claims` describe, without a form (the tests are the user)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from litestar import Litestar, Request, Response, get, post
from litestar.response import Redirect

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


@contextlib.contextmanager
def start_provider() -> Iterator[Provider]:
    """The provider on a free loopback port, for as long as the block runs."""
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
    try:
        yield found
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with start_provider() as found:
        yield found
