"""Signing in from tests: every test client and server process goes through the real login.

Test servers get a known admin password and cheap Argon2 parameters (the real defaults are
tested in tests/security); everything else about authentication is as in production.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import httpx

from dataflow.security import ROLES, Role

ADMIN_PASSWORD = "admin-password-for-tests"
FAST_HASHING: dict[str, Any] = {
    "password_time_cost": 1,
    "password_memory_kib": 8,
    "password_parallelism": 1,
    # Test servers are restarted and signed into many times a minute from one address.
    "login_attempts_per_minute": 10_000,
}


#: Test flows read and write under the temporary directory and read fixtures of the repo.
TEST_FILE_ROOTS = [tempfile.gettempdir(), str(Path(__file__).resolve().parents[1])]


def auth_settings() -> dict[str, Any]:
    """Settings fields for a test app: Settings(**auth_settings(), ...). Litestar's test
    client calls itself testserver.local, a Host the server must then allow."""
    return {
        "admin_password": ADMIN_PASSWORD,
        "allowed_hosts": ["testserver.local"],
        "file_roots": TEST_FILE_ROOTS,
        **FAST_HASHING,
    }


def auth_env() -> dict[str, str]:
    """The same for a `dataflow serve` process, as DATAFLOW_* variables."""
    env = {
        "admin_password": ADMIN_PASSWORD,
        "file_roots": ",".join(TEST_FILE_ROOTS),
        **FAST_HASHING,
    }
    return {f"DATAFLOW_{k.upper()}": str(v) for k, v in env.items()}


def token_for(client: httpx.Client, name: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    """Sign in through the API and return a new API token of that user."""
    reply = client.post(
        "/api/v1/auth/login",
        json={"name": name, "password": password, "token_name": "tests"},
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["token"]


def sign_in(client: httpx.Client, name: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    """Sign the client in: every later call carries the user's token."""
    token = token_for(client, name, password)
    client.headers["Authorization"] = f"Bearer {token}"
    return token


def user_with_role(admin: httpx.Client, role: Role) -> dict[str, str]:
    """Headers of a new user holding `role` (created by a signed-in admin client)."""
    name = f"user-{role}"
    password = f"password-of-{role}"
    if admin.get(f"/api/v1/users/{name}").status_code != 200:
        created = admin.post(
            "/api/v1/users", json={"name": name, "password": password, "role": role}
        )
        assert created.status_code in (200, 201), created.text
    return {"Authorization": f"Bearer {token_for(admin, name, password)}"}


def role_headers(admin: httpx.Client) -> dict[Role, dict[str, str]]:
    return {role: user_with_role(admin, role) for role in ROLES}
