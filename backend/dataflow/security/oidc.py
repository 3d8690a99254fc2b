"""Signing in through an OpenID Connect provider (authorization code flow with PKCE).

The ID token is checked with joserfc (the maintained successor of authlib's JOSE code):
signature against the provider's published keys, issuer, audience, expiry and the nonce of
this very login. The user it names gets a DataFlow session like a password sign-in would.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from dataflow.security.roles import ROLES, Role

#: Seconds a user has between leaving for the provider and coming back.
LOGIN_TTL_SECONDS = 600
#: Logins waiting for their callback at once (the oldest are dropped beyond).
MAX_PENDING = 1000
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class OidcError(ValueError):
    """The sign-in through the provider failed; the message says why (never a token)."""


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str = "openid profile email"
    #: Claims tried in order for the DataFlow user name.
    username_claims: tuple[str, ...] = ("preferred_username", "email", "sub")
    #: A claim holding role names (a string or a list): the highest DataFlow role among them
    #: is the user's; without one, `default_role`.
    role_claim: str = "dataflow_roles"
    default_role: Role = "viewer"


@dataclass(frozen=True)
class OidcUser:
    name: str
    #: None: the provider said nothing about roles (keep what the user has, or the default).
    role: Role | None
    claims: dict[str, Any]


@dataclass(frozen=True)
class _Pending:
    nonce: str
    verifier: str
    redirect_uri: str
    next: str
    expires: float


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class OidcClient:
    def __init__(self, settings: OidcSettings, *, timeout: float = 10.0):
        self.settings = settings
        self.timeout = timeout
        self._discovery: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._pending: OrderedDict[str, _Pending] = OrderedDict()

    async def _get(self, url: str) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=self.timeout) as http:
            try:
                reply = await http.get(url)
            except httpx.HTTPError as exc:
                raise OidcError(f"the identity provider at {url} does not answer: {exc}") from exc
        if reply.status_code != 200:
            raise OidcError(f"the identity provider answered {reply.status_code} for {url}")
        body: dict[str, Any] = reply.json()
        return body

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is None:
            issuer = self.settings.issuer.rstrip("/")
            found = await self._get(f"{issuer}/.well-known/openid-configuration")
            if found.get("issuer", "").rstrip("/") != issuer:
                raise OidcError(f"the provider says its issuer is {found.get('issuer')!r}")
            self._discovery = found
        return self._discovery

    async def keys(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            found = await self._get((await self.discovery())["jwks_uri"])
            self._keys = KeySet.import_key_set(found)  # type: ignore[arg-type]  # a JWKS dict
        return self._keys

    async def begin(self, redirect_uri: str, next_path: str = "/") -> str:
        """Where to send the browser: the provider's authorization URL for a new login."""
        endpoint = (await self.discovery())["authorization_endpoint"]
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        self._forget_expired()
        self._pending[state] = _Pending(
            nonce, verifier, redirect_uri, next_path, time.monotonic() + LOGIN_TTL_SECONDS
        )
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)
        query = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.settings.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        }
        return f"{endpoint}?{urlencode(query)}"

    def _forget_expired(self) -> None:
        now = time.monotonic()
        for state in [s for s, p in self._pending.items() if p.expires < now]:
            del self._pending[state]

    async def finish(self, state: str, code: str) -> tuple[OidcUser, str]:
        """The user the provider vouches for, and where the browser goes next."""
        self._forget_expired()
        pending = self._pending.pop(state, None)
        if pending is None:
            raise OidcError("unknown or expired sign-in (state): start again")
        found = await self.discovery()
        async with httpx.AsyncClient(timeout=self.timeout) as http:
            try:
                reply = await http.post(
                    found["token_endpoint"],
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": pending.redirect_uri,
                        "code_verifier": pending.verifier,
                    },
                    auth=(self.settings.client_id, self.settings.client_secret),
                )
            except httpx.HTTPError as exc:
                raise OidcError(f"the token endpoint does not answer: {exc}") from exc
        if reply.status_code != 200:
            raise OidcError(f"the provider refused the code ({reply.status_code})")
        id_token = reply.json().get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("the provider sent no ID token")
        claims = await self._verify(id_token, pending.nonce)
        return self._user(claims), pending.next

    async def _verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        registry = JWTClaimsRegistry(
            iss={"essential": True, "value": (await self.discovery())["issuer"]},
            aud={"essential": True, "value": self.settings.client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        for refresh in (False, True):  # a key the provider rotated in: fetch the set again
            try:
                token = jwt.decode(id_token, await self.keys(refresh), algorithms=ALGORITHMS)
                registry.validate(token.claims)
            except JoseError as exc:
                if refresh or "key" not in str(exc).lower():
                    raise OidcError(f"the ID token is not valid: {exc.error}") from exc
                continue
            claims: dict[str, Any] = token.claims
            return claims
        raise OidcError("the ID token is not valid")  # pragma: no cover - the loop returns

    def _user(self, claims: dict[str, Any]) -> OidcUser:
        name = next(
            (claims[c] for c in self.settings.username_claims if isinstance(claims.get(c), str)),
            None,
        )
        if not name:
            raise OidcError(
                f"the ID token names no user ({', '.join(self.settings.username_claims)})"
            )
        granted = claims.get(self.settings.role_claim)
        names = [granted] if isinstance(granted, str) else granted or []
        roles = [r for r in ROLES if r in names]
        return OidcUser(name=name, role=roles[-1] if roles else None, claims=claims)
