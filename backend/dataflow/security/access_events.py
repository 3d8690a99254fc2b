"""The access aggregate: users, their tokens and sessions, as events on one stream."""

from __future__ import annotations

from typing import Literal

import msgspec

from dataflow.security.roles import Role

#: The journal stream every access event goes to (one aggregate: names are unique in it).
ACCESS_STREAM = "access"

TokenKind = Literal["api", "session"]


class AccessEvent(msgspec.Struct, tag_field="type", frozen=True, kw_only=True):
    """Base of access events. No event holds a password or a token in clear: only their
    hashes (Argon2id for passwords, SHA-256 for the 256-bit random tokens)."""


class UserCreated(AccessEvent, tag="UserCreated", frozen=True):
    name: str
    role: Role
    password_hash: str


class UserPasswordChanged(AccessEvent, tag="UserPasswordChanged", frozen=True):
    name: str
    password_hash: str


class UserRoleChanged(AccessEvent, tag="UserRoleChanged", frozen=True):
    name: str
    role: Role


class UserDeleted(AccessEvent, tag="UserDeleted", frozen=True):
    """The user and every token and session of theirs stop working."""

    name: str


class TokenCreated(AccessEvent, tag="TokenCreated", frozen=True):
    token_id: str
    #: What the owner called it ("ci", "airflow"); sessions are named after the client.
    name: str
    owner: str
    role: Role
    kind: TokenKind
    secret_hash: str
    created_at: float
    expires_at: float


class TokenRevoked(AccessEvent, tag="TokenRevoked", frozen=True):
    token_id: str


AnyAccessEvent = (
    UserCreated | UserPasswordChanged | UserRoleChanged | UserDeleted | TokenCreated | TokenRevoked
)
_decoder = msgspec.json.Decoder(AnyAccessEvent)


def decode_access_event(data: bytes) -> AccessEvent:
    return _decoder.decode(data)
