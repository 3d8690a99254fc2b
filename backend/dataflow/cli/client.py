"""Talking to a server from the command line: where the token comes from, and the client.

A token is taken from `--token`, else DATAFLOW_TOKEN, else what `dataflow login` stored for
that server in DATAFLOW_CONFIG_DIR (default ~/.config/dataflow)/credentials.json, a file
only its owner can read.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
TOKEN_ENV = "DATAFLOW_TOKEN"
CONFIG_ENV = "DATAFLOW_CONFIG_DIR"


def config_dir() -> Path:
    configured = os.environ.get(CONFIG_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "dataflow"


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


def _load() -> dict[str, str]:
    try:
        data = json.loads(credentials_path().read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def stored_token(url: str) -> str | None:
    return _load().get(url.rstrip("/"))


def store_token(url: str, token: str | None) -> Path:
    """Keep (or with None forget) the token for `url`; the file is created mode 0600."""
    tokens = _load()
    if token is None:
        tokens.pop(url.rstrip("/"), None)
    else:
        tokens[url.rstrip("/")] = token
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(tokens, file, indent=2, sort_keys=True)
    os.chmod(path, 0o600)
    return path


def token_of(args: argparse.Namespace) -> str | None:
    return getattr(args, "token", None) or os.environ.get(TOKEN_ENV) or stored_token(args.url)


def client(args: argparse.Namespace, *, signed_in: bool = True) -> httpx.Client:
    """An httpx client on `--url`, with the token when there is one."""
    headers = {}
    token = token_of(args) if signed_in else None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=args.url.rstrip("/"), headers=headers, timeout=30)


def add_server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get("DATAFLOW_URL", DEFAULT_URL), help="server")
    p.add_argument(
        "--token", default=None, help=f"API token (default: ${TOKEN_ENV}, or `dataflow login`)"
    )


def not_signed_in_hint(args: argparse.Namespace) -> str:
    return (
        f"not signed in to {args.url}: run `dataflow login --url {args.url}`, or pass --token / "
        f"set {TOKEN_ENV}"
    )


def problem_text(response: httpx.Response) -> str:
    """A problem body as lines: status, title, detail, then each error with its path."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:500]}"
    lines = [f"HTTP {response.status_code} {body.get('title', '')}: {body.get('detail', '')}"]
    lines += [f"  {e.get('path', '')}: {e.get('message', '')}" for e in body.get("errors", [])]
    return "\n".join(lines)
