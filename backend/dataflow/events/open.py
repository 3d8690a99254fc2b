"""A journal from its URL: the one place that knows every backend (journal.py knows none)."""

from __future__ import annotations

from dataflow.events.journal import Journal, MemoryJournal
from dataflow.events.postgres import PostgresJournal
from dataflow.events.sqlite import SqliteJournal


def open_journal(url: str) -> Journal:
    """A journal from its URL: `sqlite:///path/journal.db`, `postgresql://...`, `memory://`."""
    if url.startswith("memory:"):
        return MemoryJournal()
    if url.startswith("sqlite:"):
        return SqliteJournal(_sqlite_path(url))
    if url.startswith(("postgresql:", "postgres:")):
        return PostgresJournal(url)
    raise ValueError(
        f"unknown journal URL {url!r} (use sqlite:///PATH, postgresql://..., memory://)"
    )


def _sqlite_path(url: str) -> str:
    # sqlite:///relative/or/absolute -> path after the third slash, like SQLAlchemy URLs
    # (sqlite:////abs/path for an absolute one); sqlite:path also accepted.
    rest = url.removeprefix("sqlite:")
    if rest.startswith("///"):
        return rest[3:]
    return rest.lstrip("/") if rest.startswith("//") else rest
