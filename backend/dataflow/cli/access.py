"""`dataflow login`, `logout`, `users` and `tokens`: signing in and managing access."""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

from dataflow.cli.client import (
    add_server_options,
    client,
    not_signed_in_hint,
    problem_text,
    store_token,
    token_of,
)

ROLES = ("viewer", "operator", "editor", "admin")


def _password(args: argparse.Namespace, prompt: str) -> str:
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(prompt)


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
    with client(args) as http:
        response = http.request(method, path, **kwargs)
    if response.status_code == 401:
        print(problem_text(response), file=sys.stderr)
        print(not_signed_in_hint(args), file=sys.stderr)
        return None
    if not response.is_success:
        print(problem_text(response), file=sys.stderr)
        return None
    return response


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def _login(args: argparse.Namespace) -> int:
    name = args.user or input("user: ")
    password = _password(args, f"password for {name} at {args.url}: ")
    token_name = args.token_name or f"cli@{socket.gethostname()}"[:64]
    with client(args, signed_in=False) as http:
        response = http.post(
            "/api/v1/auth/login",
            json={
                "name": name,
                "password": password,
                "token_name": token_name,
                "expires_in_days": args.days,
            },
        )
    if response.status_code != 200:
        print(problem_text(response), file=sys.stderr)
        return 1
    body = response.json()
    path = store_token(args.url, body["token"])
    print(f"signed in to {args.url} as {body['user']} ({body['role']}); token {token_name!r}")
    print(f"until {_when(body['expires_at'])}, kept in {path}")
    return 0


def _logout(args: argparse.Namespace) -> int:
    if token_of(args):
        with client(args) as http:
            http.post("/api/v1/auth/logout")  # revokes the token; gone already is fine too
    store_token(args.url, None)
    print(f"signed out of {args.url}")
    return 0


def _users(args: argparse.Namespace) -> int:
    action: str = args.action
    if action == "list":
        response = _call(args, "GET", "/api/v1/users")
        if response is None:
            return 1
        for user in response.json():
            print(f"{user['name']:<24} {user['role']:<9} since {_when(user['created_at'])}")
        return 0
    if action == "add":
        password = _password(args, f"password for the new user {args.name}: ")
        body = {"name": args.name, "password": password, "role": args.role}
        response = _call(args, "POST", "/api/v1/users", json=body)
    elif action == "set-role":
        response = _call(args, "PATCH", f"/api/v1/users/{args.name}", json={"role": args.role})
    elif action == "passwd":
        password = _password(args, f"new password for {args.name}: ")
        response = _call(args, "PATCH", f"/api/v1/users/{args.name}", json={"password": password})
    else:  # delete
        response = _call(args, "DELETE", f"/api/v1/users/{args.name}")
    if response is None:
        return 1
    print(f"{action} {args.name}: done")
    return 0


def _tokens(args: argparse.Namespace) -> int:
    action: str = args.action
    if action == "list":
        response = _call(args, "GET", "/api/v1/tokens")
        if response is None:
            return 1
        for t in response.json():
            print(
                f"{t['id']}  {t['name']:<20} {t['owner']:<16} {t['role']:<9} "
                f"until {_when(t['expires_at'])}"
            )
        return 0
    if action == "create":
        body: dict[str, Any] = {"name": args.name, "expires_in_days": args.days}
        if args.role:
            body["role"] = args.role
        if args.owner:
            body["owner"] = args.owner
        response = _call(args, "POST", "/api/v1/tokens", json=body)
        if response is None:
            return 1
        made = response.json()
        # The value on stdout alone, so that scripts can capture it; the rest on stderr.
        print(made["token"])
        print(
            f"token {made['name']!r} ({made['role']}, id {made['id']}) until "
            f"{_when(made['expires_at'])}: shown this once",
            file=sys.stderr,
        )
        return 0
    response = _call(args, "DELETE", f"/api/v1/tokens/{args.id}")
    if response is None:
        return 1
    print(f"revoked token {args.id}")
    return 0


def add_commands(sub: Any) -> None:
    def command(name: str, helptext: str, func: Callable[[argparse.Namespace], int]) -> Any:
        p = sub.add_parser(name, help=helptext)
        add_server_options(p)
        p.set_defaults(func=func)
        return p

    p = command("login", "sign in and keep an API token for the server", _login)
    p.add_argument("--user", help="user name (default: asked)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--token-name", help="the token's name (default cli@HOST)")
    p.add_argument("--days", type=float, default=30, help="token lifetime (default 30)")

    command("logout", "revoke and forget the stored token", _logout)

    p = sub.add_parser("users", help="list and manage users (admins)")
    p.set_defaults(func=_users)
    users = p.add_subparsers(dest="action", required=True)
    users.add_parser("list")
    add = users.add_parser("add")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="viewer")
    add.add_argument("--password-stdin", action="store_true")
    role = users.add_parser("set-role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    passwd = users.add_parser("passwd")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    users.add_parser("delete").add_argument("name")
    for action in users.choices.values():  # options after the action: `users list --url U`
        add_server_options(action)

    p = sub.add_parser("tokens", help="list, create and revoke API tokens")
    p.set_defaults(func=_tokens)
    tokens = p.add_subparsers(dest="action", required=True)
    tokens.add_parser("list")
    create = tokens.add_parser("create")
    create.add_argument("name")
    create.add_argument("--role", choices=ROLES, help="at most yours (default: yours)")
    create.add_argument("--days", type=float, default=90, help="lifetime (default 90)")
    create.add_argument("--owner", help="admins: a token for another user")
    tokens.add_parser("revoke").add_argument("id")
    for action in tokens.choices.values():
        add_server_options(action)
