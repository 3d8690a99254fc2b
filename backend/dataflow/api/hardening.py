"""What a browser must not be tricked into: JSON routes take only JSON (a cross-site form
posts text/plain), WebSockets only from our own origin, and every answer carries headers
that keep the editor out of frames and other sites' scripts out of the editor."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import msgspec
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

from dataflow.api.errors import TITLES, Problem

#: The editor loads only its own scripts; CodeMirror and React Flow set inline styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
JSON_TYPES = frozenset({"application/json"})
#: The ingest endpoint also takes NDJSON, and a body without a type (curl --data-binary).
INGEST_TYPES = frozenset({"application/json", "application/x-ndjson", ""})
INGEST_PREFIX = "/api/v1/ingest/"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    return (length not in ("", "0")) or bool(_header(scope, b"transfer-encoding"))


async def send_problem(send: Send, status: int, detail: str, *, websocket: bool = False) -> None:
    if websocket:  # refused before the handshake: a 403 to the upgrade request
        await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
        return
    body = msgspec.json.encode(
        Problem(status=status, title=TITLES.get(status, "Error"), detail=detail)
    )
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        *SECURITY_HEADERS,
    ]
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": headers,
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def add_security_headers(message: Message, scope: Scope) -> None:
    """The app's before_send hook: every HTTP answer, a 404 of no route included."""
    if message["type"] == "http.response.start":
        headers = MutableScopeHeaders.from_message(message)
        for key, value in SECURITY_HEADERS:
            if key.decode() not in headers:
                headers[key.decode()] = value.decode()


def host_name(host: str) -> str:
    """The name part of a Host header: `[::1]:8080` -> `::1`, `a.example:80` -> `a.example`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class HardeningMiddleware:
    """Host names, content types, WebSocket origins and security headers: the outermost
    middleware, so nothing else runs for a request it refuses."""

    def __init__(
        self,
        app: ASGIApp,
        host_names: Iterable[str] = (),
        allowed_origins: Iterable[str] = (),
        max_header_bytes: int | None = None,
    ):
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.host_names = frozenset(host_name(h) for h in host_names)
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind in (ScopeType.HTTP, ScopeType.WEBSOCKET) and self.max_header_bytes:
            # The server's parser bounds headers that arrive in pieces; these came whole.
            size = sum(len(k) + len(v) for k, v in scope.get("headers", ()))
            if size > self.max_header_bytes:
                await send_problem(
                    send,
                    431,
                    f"the request's headers are {size} bytes: at most {self.max_header_bytes} "
                    "(the max_header_bytes setting)",
                    websocket=kind == ScopeType.WEBSOCKET,
                )
                return
        if kind in (ScopeType.HTTP, ScopeType.WEBSOCKET) and self.host_names:
            host = _header(scope, b"host")
            if host_name(host) not in self.host_names:
                await send_problem(
                    send,
                    400,
                    f"this server does not answer to the host name {host!r}: add it to the "
                    "allowed_hosts setting (DATAFLOW_ALLOWED_HOSTS) if it is yours",
                    websocket=kind == ScopeType.WEBSOCKET,
                )
                return
        if kind == ScopeType.WEBSOCKET:
            problem = self.check_origin(scope)
            if problem:
                await send_problem(send, 403, problem, websocket=True)
                return
            await self.app(scope, receive, send)
            return
        if kind != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        problem = self.check_content_type(scope)
        if problem:
            await send_problem(send, 415, problem)
            return
        await self.app(scope, receive, send)

    def check_content_type(self, scope: Scope) -> str | None:
        path: str = scope.get("path", "")
        if scope.get("method") not in _BODY_METHODS or not path.startswith("/api/"):
            return None
        sent = media_type(_header(scope, b"content-type"))
        if path.startswith(INGEST_PREFIX):
            allowed = INGEST_TYPES
        elif not _has_body(scope):
            return None
        else:
            allowed = JSON_TYPES
        if sent in allowed or (sent.endswith("+json") and "application/json" in allowed):
            return None
        shown = sent or "none"
        wanted = " or ".join(sorted(t for t in allowed if t)) or "application/json"
        return f"the body's content type is {shown}: send {wanted}"

    def check_origin(self, scope: Scope) -> str | None:
        """A browser's WebSocket names the page that opened it: only our own pages (the
        origin whose host is the one the client connected to) or configured ones."""
        origin = _header(scope, b"origin").rstrip("/").lower()
        if not origin:
            return None  # not a browser: it still needs a token
        if origin in self.allowed_origins:
            return None
        host = _header(scope, b"host").lower()
        if urlsplit(origin).netloc == host:
            return None
        return f"WebSocket from origin {origin} refused: only pages served by this server"
