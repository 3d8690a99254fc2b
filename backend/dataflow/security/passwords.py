"""Password hashing with Argon2id (argon2-cffi; by default its RFC 9106 low-memory profile)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: Shortest password a user may set.
MIN_PASSWORD_LENGTH = 8


class Passwords:
    """Hashes and checks passwords. The cost parameters are settings: lowering them makes
    guessing a stolen hash cheaper, so only tests should."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4):
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        #: Checked when the user does not exist, so that a wrong name costs as long as a
        #: wrong password (no user enumeration by timing).
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


def random_password() -> str:
    """A generated password: 128 bits, URL-safe, easy to paste."""
    return secrets.token_urlsafe(16)


def check_strength(password: str) -> str | None:
    """Why the password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password has at least {MIN_PASSWORD_LENGTH} characters"
    if password.strip() != password:
        return "a password does not start or end with spaces"
    return None
