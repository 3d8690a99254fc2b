"""Config fields several processors repeat, each declared once with its bounds and help text."""

from __future__ import annotations

from typing import Annotated

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from redis.connection import parse_url

from dataflow.processor import ui

PostgresDsn = Annotated[
    str,
    ui(
        "Connection URL",
        "libpq URL or key=value string: postgresql://user@host:5432/database.",
        placeholder="postgresql://app@db.example.com:5432/shop",
        min_length=1,
    ),
]
RedisUrl = Annotated[
    str,
    ui(
        "Redis URL",
        "redis://host:6379/0 (rediss:// for TLS).",
        placeholder="redis://cache.example.com:6379/0",
        min_length=1,
    ),
]
#: The password of a PostgreSQL or Redis connection: a field of its own, so that it can be
#: a secret reference while the URL stays readable in exports.
Password = Annotated[
    str | None,
    ui("Password", "Kept out of the URL so that flow exports do not show it.", secret=True),
]
BatchSize = Annotated[int, ui("Batch size", "Most records per batch.", ge=1, le=10_000_000)]
LingerMs = Annotated[
    int,
    ui("Linger (ms)", "Longest wait for a batch to fill once its first record arrived.", ge=0),
]


def check_dsn(dsn: str, field: str = "dsn") -> None:
    """ValueError naming the field when `dsn` is not a libpq connection string."""
    try:
        conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        lines = str(exc).strip().splitlines()
        raise ValueError(
            f"{field} is not a valid connection string: {lines[0] if lines else exc}"
        ) from None


def postgres_server(dsn: str) -> str:
    """host:port/database, for error messages (never the password)."""
    info = conninfo_to_dict(dsn)
    host, port = info.get("host") or "localhost", info.get("port") or "5432"
    return f"{host}:{port}/{info.get('dbname') or info.get('user') or 'postgres'}"


def postgres_conninfo(dsn: str, password: str | None) -> str:
    """The connection string with the password added (it is never written into the URL)."""
    return make_conninfo(dsn, **({"password": password} if password else {}))


def check_redis_url(url: str) -> None:
    """ValueError naming the allowed schemes when `url` is not a Redis URL."""
    parse_url(url)


def redis_server(url: str) -> str:
    """host:port/db, for error messages (never the password)."""
    info = parse_url(url)
    return f"{info.get('host', '127.0.0.1')}:{info.get('port', 6379)}/{info.get('db', 0)}"
