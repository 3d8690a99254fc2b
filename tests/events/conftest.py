"""Journal stores for the contract suite: a fresh one per test, for every backend."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
import pytest

from dataflow.events.journal import Journal
from dataflow.events.open import open_journal

POSTGRES_URL = os.environ.get(
    "DATAFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


class Store:
    """One fresh place to keep a journal; `open()` gives another journal instance on it.

    Instances on one store are what separate processes or cluster nodes would hold
    (the memory backend has no such thing, so it hands back its one instance).
    """

    def __init__(self, kind: str, url: str) -> None:
        self.kind = kind
        self.url = url
        self._opened: list[Journal] = []

    def open(self) -> Journal:
        if self.kind == "memory" and self._opened:
            return self._opened[0]
        journal = open_journal(self.url)
        self._opened.append(journal)
        return journal

    async def close_all(self) -> None:
        for journal in self._opened:
            await journal.close()


async def _postgres_schema() -> str:
    schema = f"test_journal_{uuid.uuid4().hex[:12]}"
    try:
        conn = await psycopg.AsyncConnection.connect(POSTGRES_URL, connect_timeout=5)
    except psycopg.OperationalError as error:
        # Fail, never skip: a contract suite that silently drops a backend proves nothing.
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL}: {error}\n"
            "start it with: pg_ctlcluster --skip-systemctl-redirect "
            "$(ls /etc/postgresql) main start"
        )
    await conn.close()
    return schema


async def _drop_schema(schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
        await conn.execute(
            psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                psycopg.sql.Identifier(schema)
            )
        )


@asynccontextmanager
async def _store(kind: str, tmp_path: Path) -> AsyncIterator[Store]:
    schema = None
    if kind == "memory":
        store = Store(kind, "memory://")
    elif kind == "sqlite":
        store = Store(kind, f"sqlite:///{tmp_path / 'journal' / 'journal.db'}")
    else:
        schema = await _postgres_schema()  # the journal creates it on first use
        store = Store(kind, f"{POSTGRES_URL}?schema={schema}")
    try:
        yield store
    finally:
        await store.close_all()
        if schema is not None:
            await _drop_schema(schema)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with _store(request.param, tmp_path) as value:
        yield value


@pytest.fixture(params=["sqlite", "postgresql"])
async def durable_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with _store(request.param, tmp_path) as value:
        yield value


@pytest.fixture
def journal(store: Store) -> Journal:
    return store.open()
