"""Authentication and authorisation on every route: bearer tokens for scripts, a session
cookie with a CSRF token for the editor, and one guard that checks each handler's role."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import defaultdict, deque
from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from dataflow.events.actor import current_actor
from dataflow.security import Identity, Role, allows

log = logging.getLogger(__name__)

SESSION_COOKIE = "dataflow_session"
CSRF_HEADER = "x-csrf-token"
PUBLIC = "exclude_from_auth"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def needs(read: Role | None = None, write: Role | None = None) -> dict[str, Any]:
    """Handler or controller `opt` declaring the least role that may call it: `read` for
    GET/HEAD (and the WebSocket), `write` for every other method. Undeclared, reading needs
    viewer and writing needs editor."""
    opt: dict[str, Any] = {}
    if read is not None:
        opt["read_role"] = read
    if write is not None:
        opt["write_role"] = write
    return opt


def public() -> dict[str, Any]:
    """Handler `opt` for the few routes anyone may call (sign-in, liveness, the editor's
    static files): the authentication middleware skips them."""
    return {PUBLIC: True}


def required_role(handler: BaseRouteHandler, method: str | None) -> Role | None:
    """The role a call needs; None for public handlers."""
    if handler.opt.get(PUBLIC):
        return None
    if method is None or method.upper() in SAFE_METHODS:
        return handler.opt.get("read_role", "viewer")
    return handler.opt.get("write_role", "editor")


def csrf_token(session: str) -> str:
    """The CSRF token of a session: derived from the cookie's value, which a cross-site page
    cannot read, so it is sent back in a header only by our own editor."""
    return hashlib.sha256(b"dataflow-csrf:" + session.encode()).hexdigest()[:40]


def _method(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The HTTP method (None for a WebSocket)."""
    method = connection.scope.get("method")
    return method.upper() if isinstance(method, str) else None


def bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """Who calls: `Authorization: Bearer <token>`, else the session cookie. Unsafe methods on
    a session need its CSRF token in `X-CSRF-Token` (bearer tokens cannot be sent by another
    site's page, cookies can)."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        access = connection.app.state.services.access
        token = bearer(connection)
        from_cookie = token is None
        if token is None:
            token = connection.cookies.get(SESSION_COOKIE)
        if not token:
            raise NotAuthorizedException(
                "sign in first: send Authorization: Bearer <token> (dataflow tokens create), "
                "or sign in on the editor's page"
            )
        identity: Identity | None = await access.identify(token)
        if identity is None or (from_cookie and identity.kind != "session"):
            raise NotAuthorizedException("the token or session is unknown, revoked or expired")
        method = _method(connection)
        if from_cookie and method is not None and method not in SAFE_METHODS:
            sent = connection.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf_token(token).encode()):
                raise PermissionDeniedException(
                    f"missing or wrong {CSRF_HEADER} header: the editor sends the token it got "
                    "at sign-in (GET /api/v1/auth/me gives it again)"
                )
        current_actor.set(identity.actor)  # every event this request journals names them
        return AuthenticationResult(user=identity, auth=token)


def authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The app's one guard: the caller's role must allow the handler's."""
    need = required_role(handler, _method(connection))
    if need is None:
        return
    identity = connection.scope.get("user")
    if not isinstance(identity, Identity):  # the middleware ran, so this is a bug: deny
        raise NotAuthorizedException("sign in first")
    if not allows(identity.role, need):
        raise PermissionDeniedException(
            f"{identity.actor} has role {identity.role}; this needs {need} or higher"
        )


def identity_of(request: Request[Any, Any, Any]) -> Identity:
    user = request.scope.get("user")
    if not isinstance(user, Identity):
        raise NotAuthorizedException("sign in first")
    return user


class LoginFailure(msgspec.Struct, kw_only=True):
    at: float
    client: str
    user: str


class LoginGuard:
    """Sign-in attempts per client address in a sliding minute; failures kept for admins."""

    def __init__(self, per_minute: int, keep: int = 200):
        self.per_minute = per_minute
        self._attempts: dict[str, deque[float]] = defaultdict(deque)
        self.failures: deque[LoginFailure] = deque(maxlen=keep)

    def admit(self, client: str) -> float | None:
        """None when the client may try now; else the seconds to wait."""
        now = time.monotonic()
        attempts = self._attempts[client]
        while attempts and attempts[0] <= now - 60:
            attempts.popleft()
        if len(attempts) >= self.per_minute:
            return max(1.0, 60 - (now - attempts[0]))
        attempts.append(now)
        return None

    def failed(self, client: str, user: str) -> None:
        log.warning("failed sign-in for user %r from %s", user, client)
        self.failures.append(LoginFailure(at=time.time(), client=client, user=user))
