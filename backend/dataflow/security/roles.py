"""The four roles, each allowing everything the one before it does."""

from __future__ import annotations

from typing import Literal

#: viewer reads; operator also starts, stops, pauses and resumes runs; editor also designs
#: flows and reads secret names; admin also manages users, tokens, secrets and the server.
Role = Literal["viewer", "operator", "editor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "editor", "admin")


def allows(have: Role, need: Role) -> bool:
    return ROLES.index(have) >= ROLES.index(need)


def below(role: Role) -> Role | None:
    """The role one step lower (None below viewer)."""
    i = ROLES.index(role)
    return ROLES[i - 1] if i else None


def lesser(a: Role, b: Role) -> Role:
    return a if ROLES.index(a) <= ROLES.index(b) else b
