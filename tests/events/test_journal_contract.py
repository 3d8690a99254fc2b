"""The journal contract: every backend (memory, SQLite, PostgreSQL) must pass all of it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dataflow.events.journal import (
    ConcurrencyError,
    EventData,
    Journal,
    MemoryJournal,
    RecordedEvent,
)
from dataflow.events.open import open_journal
from dataflow.events.postgres import PostgresJournal
from dataflow.events.sqlite import SqliteJournal

if TYPE_CHECKING:
    from conftest import Store  # the fixtures' type; importing conftest at run time is fragile


def event(n: int, **metadata: object) -> EventData:
    return EventData(type="ThingHappened", data=b'{"n": %d}' % n, metadata=metadata)


def versions(events: list[RecordedEvent]) -> list[int]:
    return [e.version for e in events]


def positions(events: list[RecordedEvent]) -> list[int]:
    return [e.position for e in events]


async def append_retrying(journal: Journal, stream: str, events: list[EventData]) -> int:
    """Read the version, append at it, and on a conflict read again: the usual writer loop."""
    while True:
        version = await journal.stream_version(stream)
        try:
            return await journal.append(stream, version, events)
        except ConcurrencyError:
            await asyncio.sleep(0)


# --- appending and reading ------------------------------------------------------------


async def test_append_to_a_new_stream_starts_at_version_one(journal: Journal) -> None:
    new_version = await journal.append("flow-1", 0, [event(1), event(2), event(3)])

    assert new_version == 3
    assert await journal.stream_version("flow-1") == 3
    stored = await journal.read("flow-1")
    assert versions(stored) == [1, 2, 3]
    assert positions(stored) == [1, 2, 3]
    assert [(e.stream, e.type, e.data) for e in stored] == [
        ("flow-1", "ThingHappened", b'{"n": %d}' % n) for n in (1, 2, 3)
    ]


async def test_appends_continue_the_stream_versions(journal: Journal) -> None:
    await journal.append("flow-1", 0, [event(1), event(2)])
    assert await journal.append("flow-1", 2, [event(3)]) == 3
    assert await journal.append("flow-1", 3, [event(4), event(5)]) == 5

    assert versions(await journal.read("flow-1")) == [1, 2, 3, 4, 5]


async def test_an_unknown_stream_is_empty(journal: Journal) -> None:
    assert await journal.stream_version("nothing") == 0
    assert await journal.read("nothing") == []
    assert await journal.read_all() == []
    assert await journal.load_snapshot("nothing") is None


@pytest.mark.parametrize("expected", [0, 1, 3, 7])
async def test_a_wrong_expected_version_raises_and_writes_nothing(
    journal: Journal, expected: int
) -> None:
    await journal.append("flow-1", 0, [event(1), event(2)])
    before = await journal.read_all()

    with pytest.raises(ConcurrencyError) as raised:
        await journal.append("flow-1", expected, [event(3), event(4)])

    assert (raised.value.stream, raised.value.expected, raised.value.actual) == (
        "flow-1",
        expected,
        2,
    )
    assert await journal.read("flow-1") == before
    assert await journal.read_all() == before
    # The failed append took no position: the next one continues without a gap.
    await journal.append("flow-2", 0, [event(5)])
    assert positions(await journal.read_all()) == [1, 2, 3]


async def test_a_new_stream_only_accepts_expected_version_zero(journal: Journal) -> None:
    with pytest.raises(ConcurrencyError) as raised:
        await journal.append("flow-1", 1, [event(1)])

    assert raised.value.actual == 0
    assert await journal.stream_version("flow-1") == 0
    assert await journal.read_all() == []


async def test_appending_no_events_only_checks_the_version(journal: Journal) -> None:
    await journal.append("flow-1", 0, [event(1)])

    assert await journal.append("flow-1", 1, []) == 1
    with pytest.raises(ConcurrencyError):
        await journal.append("flow-1", 0, [])
    assert positions(await journal.read_all()) == [1]


async def test_read_returns_the_requested_version_range(journal: Journal) -> None:
    await journal.append("flow-1", 0, [event(n) for n in range(1, 6)])
    await journal.append("flow-2", 0, [event(9)])

    cases = {
        (1, None): [1, 2, 3, 4, 5],
        (2, 4): [2, 3, 4],
        (4, None): [4, 5],
        (3, 3): [3],
        (5, 99): [5],
        (0, 2): [1, 2],
        (6, None): [],
        (4, 2): [],
    }
    for (from_version, to_version), expected in cases.items():
        got = await journal.read("flow-1", from_version, to_version)
        assert versions(got) == expected, (from_version, to_version)
        assert {e.stream for e in got} <= {"flow-1"}


async def test_read_all_is_the_global_order_across_streams(journal: Journal) -> None:
    await journal.append("a", 0, [event(1), event(2)])
    await journal.append("b", 0, [event(3)])
    await journal.append("a", 2, [event(4)])
    await journal.append("c", 0, [event(5), event(6)])

    everything = await journal.read_all()
    assert positions(everything) == [1, 2, 3, 4, 5, 6]
    assert [(e.stream, e.version) for e in everything] == [
        ("a", 1),
        ("a", 2),
        ("b", 1),
        ("a", 3),
        ("c", 1),
        ("c", 2),
    ]
    assert await journal.read_all(from_position=3) == everything[2:]
    assert await journal.read_all(limit=2) == everything[:2]
    assert await journal.read_all(from_position=4, limit=2) == everything[3:5]
    assert await journal.read_all(from_position=7) == []
    assert await journal.read_all(from_position=1, limit=0) == []
    # Reading stream by stream gives the same records as reading them all.
    assert await journal.read("a") == [e for e in everything if e.stream == "a"]


async def test_data_and_metadata_round_trip_exactly(journal: Journal) -> None:
    metadata = {
        "zeta": 1,
        "alpha": [1, 2.5, None, True, False, "two"],
        "nested": {"ünïcode": "✓ ÿ \u0000 end", "big": 2**63 - 1, "float": 0.1 + 0.2},
        "empty": {},
    }
    sent = [
        EventData(type="Binary", data=bytes(range(256)), metadata=metadata),
        EventData(type="Empty", data=b""),
        EventData(type="NotUtf8", data=b"\xff\xfe\x00\x80", metadata={"k": "v"}),
    ]
    await journal.append("flow-1", 0, sent)

    for stored in (await journal.read("flow-1"), await journal.read_all()):
        assert [(e.type, e.data, e.metadata) for e in stored] == [
            (e.type, e.data, e.metadata) for e in sent
        ]
        assert list(stored[0].metadata) == list(metadata)  # key order kept too
        assert all(isinstance(e.data, bytes) for e in stored)


async def test_events_carry_their_recording_time(journal: Journal) -> None:
    before = time.time()
    await journal.append("flow-1", 0, [event(1)])
    after = time.time()

    (stored,) = await journal.read("flow-1")
    assert before - 1 <= stored.recorded_at <= after + 1


# --- snapshots ------------------------------------------------------------------------


async def test_snapshots_load_the_newest_up_to_max_version(journal: Journal) -> None:
    await journal.save_snapshot("flow-1", 2, b"state at 2")
    await journal.save_snapshot("flow-1", 5, b"state at 5")
    await journal.save_snapshot("flow-2", 9, b"other stream")

    newest = await journal.load_snapshot("flow-1")
    assert newest is not None
    assert (newest.stream, newest.version, newest.data) == ("flow-1", 5, b"state at 5")
    assert newest.recorded_at > 0
    loaded = {m: await journal.load_snapshot("flow-1", max_version=m) for m in (1, 2, 4, 5, 9)}
    assert {m: s and s.version for m, s in loaded.items()} == {1: None, 2: 2, 4: 2, 5: 5, 9: 5}


async def test_a_snapshot_at_the_same_version_replaces_the_old_one(journal: Journal) -> None:
    await journal.save_snapshot("flow-1", 3, b"first")
    await journal.save_snapshot("flow-1", 3, b"\x00second")

    snapshot = await journal.load_snapshot("flow-1", max_version=3)
    assert snapshot is not None
    assert (snapshot.version, snapshot.data) == (3, b"\x00second")


async def test_ping_answers(journal: Journal) -> None:
    assert await journal.ping() is True


# --- durability -----------------------------------------------------------------------


async def test_everything_survives_closing_and_reopening(durable_store: Store) -> None:
    journal = durable_store.open()
    await journal.append("a", 0, [event(1, trace="x"), event(2)])
    await journal.append("b", 0, [event(3)])
    await journal.save_snapshot("a", 2, b"snapshot")
    written = await journal.read_all()
    await journal.close()

    reopened = durable_store.open()
    assert await reopened.read_all() == written
    assert await reopened.stream_version("a") == 2
    snapshot = await reopened.load_snapshot("a")
    assert snapshot is not None and snapshot.data == b"snapshot"
    # Writing goes on where it stopped.
    assert await reopened.append("a", 2, [event(4)]) == 3
    assert positions(await reopened.read_all()) == [1, 2, 3, 4]


async def test_a_closed_journal_refuses_work(durable_store: Store) -> None:
    journal = durable_store.open()
    await journal.ping()
    await journal.close()
    await journal.close()  # closing twice is harmless

    with pytest.raises(RuntimeError, match="closed"):
        await journal.read_all()


# --- concurrency ----------------------------------------------------------------------

WRITERS = 20
APPENDS_PER_WRITER = 3
INSTANCES = 4  # separate journal instances (own connections) sharing one store


async def test_concurrent_writers_on_one_stream_leave_no_gap_or_duplicate(store: Store) -> None:
    journals = [store.open() for _ in range(INSTANCES)]

    async def writer(w: int) -> None:
        journal = journals[w % INSTANCES]
        for a in range(APPENDS_PER_WRITER):
            # Two events per append: a batch must land whole and contiguous.
            await append_retrying(
                journal, "shared", [event(w, writer=w, append=a, half=h) for h in (0, 1)]
            )

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))

    total = WRITERS * APPENDS_PER_WRITER * 2
    stored = await journals[0].read("shared")
    assert versions(stored) == list(range(1, total + 1))
    assert sorted(positions(await journals[-1].read_all(limit=total + 10))) == list(
        range(1, total + 1)
    )
    written = {(e.metadata["writer"], e.metadata["append"], e.metadata["half"]) for e in stored}
    assert len(written) == total
    for first, second in zip(stored[::2], stored[1::2], strict=True):
        assert (first.metadata["writer"], first.metadata["append"]) == (
            second.metadata["writer"],
            second.metadata["append"],
        )
        assert (first.metadata["half"], second.metadata["half"]) == (0, 1)


async def test_two_writers_at_the_same_expected_version_exactly_one_wins(store: Store) -> None:
    first, second = store.open(), store.open()
    await first.append("flow-1", 0, [event(0)])

    for version in range(1, 6):
        results = await asyncio.gather(
            first.append("flow-1", version, [event(version, by="first")]),
            second.append("flow-1", version, [event(version, by="second")]),
            return_exceptions=True,
        )

        wins = [r for r in results if r == version + 1]
        losses = [r for r in results if isinstance(r, ConcurrencyError)]
        assert len(wins) == 1 and len(losses) == 1, results
        assert (losses[0].expected, losses[0].actual) == (version, version + 1)
        assert await second.stream_version("flow-1") == version + 1

    assert positions(await first.read_all()) == list(range(1, 7))


async def test_a_reader_following_read_all_never_sees_a_gap(store: Store) -> None:
    journals = [store.open() for _ in range(INSTANCES)]
    streams, appends = 8, 5
    total = streams * appends * 2

    async def writer(s: int) -> None:
        for a in range(appends):
            await journals[s % INSTANCES].append(f"s{s}", 2 * a, [event(a), event(a)])

    async def follower() -> list[RecordedEvent]:
        seen: list[RecordedEvent] = []
        while len(seen) < total:
            batch = await journals[0].read_all(from_position=len(seen) + 1, limit=7)
            # Positions only ever appear at the end: a batch starting past the next
            # expected position is an event the follower would have skipped forever.
            assert positions(batch) == list(range(len(seen) + 1, len(seen) + 1 + len(batch)))
            seen.extend(batch)
            await asyncio.sleep(0)
        return seen

    async with asyncio.timeout(30):
        seen, *_ = await asyncio.gather(follower(), *(writer(s) for s in range(streams)))

    for s in range(streams):
        assert versions([e for e in seen if e.stream == f"s{s}"]) == list(range(1, 2 * appends + 1))


# --- open_journal and backend specifics -----------------------------------------------


def test_open_journal_picks_the_backend_from_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    relative = open_journal("sqlite:///data/journal.db")
    absolute = open_journal(f"sqlite:///{tmp_path}/abs/journal.db")
    assert isinstance(relative, SqliteJournal) and relative.path == "data/journal.db"
    assert isinstance(absolute, SqliteJournal)
    assert absolute.path == f"{tmp_path}/abs/journal.db" and absolute.path.startswith("/")
    assert not (tmp_path / "data").exists()  # nothing is created before first use

    assert isinstance(open_journal("memory://"), MemoryJournal)


def test_open_journal_reads_the_postgres_schema_from_the_url() -> None:
    journal = open_journal("postgresql://u:p@db.example:5433/flows?schema=team_a&sslmode=disable")
    assert isinstance(journal, PostgresJournal)
    assert journal.schema == "team_a"
    assert journal.conninfo == "postgresql://u:p@db.example:5433/flows?sslmode=disable"

    default = open_journal("postgres://db.example/flows")
    assert isinstance(default, PostgresJournal)
    assert (default.schema, default.conninfo) == ("dataflow", "postgres://db.example/flows")


@pytest.mark.parametrize("url", ["mysql://db/x", "journal.db", "", "cassandra://node1/ks"])
def test_open_journal_rejects_an_unknown_scheme(url: str) -> None:
    with pytest.raises(ValueError, match="unknown journal URL"):
        open_journal(url)


async def test_sqlite_creates_its_file_and_directories_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "journal.db"
    journal = SqliteJournal(str(path))
    assert not path.parent.exists()
    try:
        await journal.append("flow-1", 0, [event(1)])
    finally:
        await journal.close()

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT position, stream, version FROM events").fetchall() == [
            (1, "flow-1", 1)
        ]
