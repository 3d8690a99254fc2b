"""AccessStore: users, API tokens and sessions, event-sourced on the journal's `access` stream.

Every server reading the same journal sees the same users and tokens: a token it does not
know yet is looked up again in the journal, and revocations are picked up within
`refresh_seconds`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from dataflow.events.journal import Journal
from dataflow.events.stream import StreamAggregate
from dataflow.security.access_events import (
    ACCESS_STREAM,
    AccessEvent,
    TokenCreated,
    TokenKind,
    TokenRevoked,
    UserCreated,
    UserDeleted,
    UserPasswordChanged,
    UserRoleChanged,
    decode_access_event,
)
from dataflow.security.passwords import Passwords, check_strength
from dataflow.security.roles import ROLES, Role, lesser

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)
TOKEN_PREFIX = "dft_"
_TOKEN = re.compile(r"^dft_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


class AccessError(ValueError):
    """A request the access rules refuse; `field` names the input at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class UserExists(AccessError):
    def __init__(self, name: str):
        super().__init__(f"a user named {name!r} exists already", "name")


class UserNotFound(AccessError):
    def __init__(self, name: str):
        super().__init__(f"no user named {name!r}", "name")


class TokenNotFound(AccessError):
    def __init__(self, token_id: str):
        super().__init__(f"no token with id {token_id!r}", "token_id")


class AccessDenied(AccessError):
    pass


class UserInfo(msgspec.Struct, kw_only=True):
    name: str
    role: Role
    created_at: float


class TokenInfo(msgspec.Struct, kw_only=True):
    """A token or session as admins and owners see it (never its value)."""

    id: str
    name: str
    owner: str
    role: Role
    kind: TokenKind
    created_at: float
    expires_at: float


class IssuedToken(TokenInfo, kw_only=True):
    """A new token: `token` is its value, shown this once and stored only as a hash."""

    token: str


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: a user, through a session or one of their API tokens, with the role
    that applies (a token's own role, capped by its owner's current one)."""

    user: str
    role: Role
    kind: TokenKind
    token_id: str
    #: The API token's name (None for a session).
    token_name: str | None = None

    @property
    def actor(self) -> str:
        """How journal events name who caused them."""
        return self.user if self.token_name is None else f"{self.user} (token {self.token_name})"


@dataclass
class _User:
    name: str
    role: Role
    password_hash: str
    created_at: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(value: str, what: str, field: str = "name") -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise AccessError(
            f"{what} {value!r} is not valid: 1-64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit",
            field,
        )
    return value


def check_role(value: str, field: str = "role") -> Role:
    if value not in ROLES:
        raise AccessError(f"unknown role {value!r}: one of {', '.join(ROLES)}", field)
    return value


class AccessStore(StreamAggregate):
    def __init__(
        self,
        journal: Journal,
        *,
        passwords: Passwords | None = None,
        refresh_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ):
        super().__init__(journal, ACCESS_STREAM, refresh_seconds=refresh_seconds)
        self.passwords = passwords or Passwords()
        self.clock = clock
        self._users: dict[str, _User] = {}
        self._tokens: dict[str, TokenCreated] = {}

    # -- read side -------------------------------------------------------------------------
    def decode(self, data: bytes) -> AccessEvent:
        return decode_access_event(data)

    def apply(self, event: msgspec.Struct, at: float) -> None:
        match event:
            case UserCreated(name=name, role=role, password_hash=hashed):
                self._users[name] = _User(name, role, hashed, at)
            case UserPasswordChanged(name=name, password_hash=hashed):
                self._users[name].password_hash = hashed
            case UserRoleChanged(name=name, role=role):
                self._users[name].role = role
            case UserDeleted(name=name):
                del self._users[name]
                for token_id in [t.token_id for t in self._tokens.values() if t.owner == name]:
                    del self._tokens[token_id]
            case TokenCreated():
                self._tokens[event.token_id] = event
            case TokenRevoked(token_id=token_id):
                self._tokens.pop(token_id, None)

    def has_users(self) -> bool:
        return bool(self._users)

    def users(self) -> list[UserInfo]:
        return [
            UserInfo(name=u.name, role=u.role, created_at=u.created_at)
            for u in sorted(self._users.values(), key=lambda u: u.name)
        ]

    def user(self, name: str) -> UserInfo:
        user = self._users.get(name)
        if user is None:
            raise UserNotFound(name)
        return UserInfo(name=user.name, role=user.role, created_at=user.created_at)

    def tokens(self, owner: str | None = None, kind: TokenKind | None = "api") -> list[TokenInfo]:
        """Live tokens (not revoked, not expired), newest first."""
        now = self.clock()
        return [
            _info(t)
            for t in sorted(self._tokens.values(), key=lambda t: -t.created_at)
            if (owner is None or t.owner == owner)
            and (kind is None or t.kind == kind)
            and t.expires_at > now
        ]

    def token(self, token_id: str) -> TokenInfo:
        found = self._tokens.get(token_id)
        if found is None or found.expires_at <= self.clock():
            raise TokenNotFound(token_id)
        return _info(found)

    # -- checking who calls ----------------------------------------------------------------
    async def check_password(self, name: str, password: str) -> UserInfo | None:
        """The user when the password is theirs; None otherwise (same cost either way)."""
        user = self._users.get(name)
        stored = user.password_hash if user is not None else None
        ok = await asyncio.to_thread(self.passwords.verify, stored, password)
        if not ok or user is None or stored is None:
            return None
        if self.passwords.needs_rehash(
            stored
        ):  # the hasher's parameters were raised since it was set
            await self.change_password(name, password)
        return self.user(name)

    async def identify(self, token: str) -> Identity | None:
        """Who holds this token or session value; None when it is unknown, revoked, expired
        or its owner was deleted."""
        match = _TOKEN.match(token)
        if match is None:
            return None
        token_id = match[1]
        if token_id not in self._tokens or self.stale():
            async with self._lock:  # an unknown id: perhaps another server's new token
                await self.load()
        found = self._tokens.get(token_id)
        if found is None or not hmac.compare_digest(found.secret_hash, _digest(token)):
            return None
        owner = self._users.get(found.owner)
        if owner is None or found.expires_at <= self.clock():
            return None
        return Identity(
            user=owner.name,
            role=lesser(found.role, owner.role),
            kind=found.kind,
            token_id=found.token_id,
            token_name=found.name if found.kind == "api" else None,
        )

    # -- write side ------------------------------------------------------------------------
    async def create_user(self, name: str, password: str, role: Role) -> UserInfo:
        check_name(name, "user name")
        check_role(role)
        _check_password(password)
        hashed = await asyncio.to_thread(self.passwords.hash, password)

        def events() -> list[AccessEvent]:
            if name in self._users:
                raise UserExists(name)
            return [UserCreated(name=name, role=role, password_hash=hashed)]

        await self.decide(events)
        return self.user(name)

    async def external_user(self, name: str, role: Role | None, default: Role) -> UserInfo:
        """A user an identity provider vouches for: created on first sign-in (with a random
        password nobody knows: they sign in through the provider), their role following the
        provider's when it names one."""
        check_name(name, "user name")
        if name not in self._users:
            await self.load()
        if name not in self._users:
            password = secrets.token_urlsafe(32)
            hashed = await asyncio.to_thread(self.passwords.hash, password)

            def created() -> list[AccessEvent]:
                if name in self._users:
                    return []
                return [UserCreated(name=name, role=role or default, password_hash=hashed)]

            await self.decide(created)
        if role is not None and self._users[name].role != role:
            await self.set_role(name, role)
        return self.user(name)

    async def change_password(self, name: str, password: str) -> None:
        _check_password(password)
        hashed = await asyncio.to_thread(self.passwords.hash, password)

        def events() -> list[AccessEvent]:
            self._require_user(name)
            return [UserPasswordChanged(name=name, password_hash=hashed)]

        await self.decide(events)

    async def set_role(self, name: str, role: Role) -> UserInfo:
        check_role(role)

        def events() -> list[AccessEvent]:
            user = self._require_user(name)
            if user.role == "admin" and role != "admin":
                self._keep_an_admin(name)
            return [UserRoleChanged(name=name, role=role)] if user.role != role else []

        await self.decide(events)
        return self.user(name)

    async def delete_user(self, name: str) -> None:
        def events() -> list[AccessEvent]:
            user = self._require_user(name)
            if user.role == "admin":
                self._keep_an_admin(name)
            return [UserDeleted(name=name)]

        await self.decide(events)

    async def issue_token(
        self,
        owner: str,
        name: str,
        *,
        expires_in: float,
        role: Role | None = None,
        kind: TokenKind = "api",
    ) -> IssuedToken:
        """A new API token (or session) for `owner`, with at most the owner's role."""
        check_name(name, "token name")
        if not expires_in > 0:
            raise AccessError("a token expires: expires_in must be more than 0", "expires_in")
        token_id = secrets.token_hex(6)
        value = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        now = self.clock()
        created: list[TokenCreated] = []

        def events() -> list[AccessEvent]:
            user = self._require_user(owner, field="owner")
            granted = check_role(role) if role is not None else user.role
            if lesser(granted, user.role) != granted:
                raise AccessDenied(
                    f"user {owner!r} is {user.role}: a token of theirs cannot be {granted}",
                    "role",
                )
            created[:] = [
                TokenCreated(
                    token_id=token_id,
                    name=name,
                    owner=owner,
                    role=granted,
                    kind=kind,
                    secret_hash=_digest(value),
                    created_at=now,
                    expires_at=now + expires_in,
                )
            ]
            return list(created)

        await self.decide(events)
        return IssuedToken(**msgspec.structs.asdict(_info(created[0])), token=value)

    async def revoke(self, token_id: str) -> None:
        def events() -> list[AccessEvent]:
            if token_id not in self._tokens:
                raise TokenNotFound(token_id)
            return [TokenRevoked(token_id=token_id)]

        await self.decide(events)

    def _require_user(self, name: str, field: str = "name") -> _User:
        user = self._users.get(name)
        if user is None:
            error = UserNotFound(name)
            error.field = field
            raise error
        return user

    def _keep_an_admin(self, name: str) -> None:
        if not any(u.role == "admin" for u in self._users.values() if u.name != name):
            raise AccessDenied(f"{name!r} is the last admin: make another user admin first")


def _check_password(password: str) -> None:
    problem = check_strength(password) if isinstance(password, str) else "must be a string"
    if problem:
        raise AccessError(problem, "password")


def _info(token: TokenCreated) -> TokenInfo:
    return TokenInfo(
        id=token.token_id,
        name=token.name,
        owner=token.owner,
        role=token.role,
        kind=token.kind,
        created_at=token.created_at,
        expires_at=token.expires_at,
    )
