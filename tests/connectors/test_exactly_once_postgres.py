"""postgres_write's two-phase commit (delivery exactly_once) on the real PostgreSQL: rows staged
until their checkpoint commits, in one transaction with the sink progress table; crashes
between the phases, recovery, idempotent commits, insert and upsert."""

from __future__ import annotations

import psycopg
import pyarrow as pa
import pytest

from dataflow.processor import Context
from dataflow_processors.postgres_write import PostgresWrite
from tests.connectors.db_fixtures import PG_DSN

pytest_plugins = ["tests.connectors.db_fixtures"]  # its fixtures

ROWS = [{"id": i, "name": f"n{i}"} for i in range(1, 41)]


def sink(schema: str, delivery: str = "exactly_once", node: str = "pg", **cfg) -> PostgresWrite:
    config = {"dsn": PG_DSN, "table": f"{schema}.orders", **cfg}
    context = Context(flow_id="f1", node_id=node, run_id="r1", delivery=delivery)  # type: ignore[arg-type]
    return PostgresWrite(PostgresWrite.parse_config(config), context)


def write(s: PostgresWrite, rows: list[dict]) -> None:
    s.write(pa.RecordBatch.from_pylist(rows))


async def table(pg, schema: str, query: str = "SELECT id, name FROM {}.orders ORDER BY id"):
    return [r for r in await (await pg.execute(query.format(schema))).fetchall()]


def expect(rows: list[dict]) -> list[tuple]:
    return [(r["id"], r["name"]) for r in sorted(rows, key=lambda r: r["id"])]


async def staged(pg, schema: str) -> int:
    found = await (
        await pg.execute(f"SELECT to_regclass('{schema}.orders__dataflow_staging')")
    ).fetchone()
    if found[0] is None:
        return 0
    (n,) = await (
        await pg.execute(f"SELECT count(*) FROM {schema}.orders__dataflow_staging")
    ).fetchone()
    return n


@pytest.fixture
async def orders(pg, pg_schema) -> str:
    await pg.execute(
        f"CREATE TABLE {pg_schema}.orders (id int PRIMARY KEY, name text,"
        " noted timestamptz NOT NULL DEFAULT now())"
    )
    return pg_schema


async def test_rows_show_only_when_their_checkpoint_commits(pg, orders):
    s = sink(orders)
    s.recover(None)
    write(s, ROWS[:10])
    write(s, ROWS[10:15])
    s.prepare_checkpoint(1)
    assert await table(pg, orders) == []  # durable in staging, not in the table
    assert await staged(pg, orders) == 15
    write(s, ROWS[15:20])  # the next epoch, written while checkpoint 1 commits
    s.commit_checkpoint(1)
    assert await table(pg, orders) == expect(ROWS[:15])
    assert await staged(pg, orders) == 5
    s.prepare_checkpoint(2)
    s.commit_checkpoint(2)
    assert await table(pg, orders) == expect(ROWS[:20])
    assert await staged(pg, orders) == 0
    progress = await table(
        pg, orders, "SELECT sink_key, committed_checkpoint FROM {}.dataflow_sink_progress"
    )
    assert progress == [("f1/pg/r1", 2)]
    s.conn.close()


async def test_crash_after_prepare_recovers_only_the_committed_checkpoint(pg, orders):
    first = sink(orders)
    write(first, ROWS[:10])
    first.prepare_checkpoint(1)
    first.commit_checkpoint(1)
    write(first, ROWS[10:20])
    first.prepare_checkpoint(2)  # the journal never committed 2...
    write(first, ROWS[20:25])  # ...and these come after it
    first.conn.close()  # crash

    again = sink(orders)
    again.recover(1)
    assert await table(pg, orders) == expect(ROWS[:10])
    assert await staged(pg, orders) == 0
    write(again, ROWS[10:25])  # the replay from checkpoint 1's offsets
    again.prepare_checkpoint(2)
    again.commit_checkpoint(2)
    assert await table(pg, orders) == expect(ROWS[:25])
    again.conn.close()


async def test_crash_between_journal_commit_and_commit_checkpoint(pg, orders):
    first = sink(orders)
    write(first, ROWS[:10])
    first.prepare_checkpoint(1)
    first.commit_checkpoint(1)
    write(first, ROWS[10:20])
    first.prepare_checkpoint(2)  # the journal committed 2; the sink never heard of it
    first.conn.close()

    again = sink(orders)
    again.recover(2)
    assert await table(pg, orders) == expect(ROWS[:20])  # published once
    again.recover(2)  # recovery interrupted and done again
    again.commit_checkpoint(2)
    again.commit_checkpoint(1)
    assert await table(pg, orders) == expect(ROWS[:20])
    write(again, ROWS[20:30])  # the run goes on after checkpoint 2
    again.prepare_checkpoint(3)
    again.commit_checkpoint(3)
    assert await table(pg, orders) == expect(ROWS[:30])
    again.conn.close()


async def test_a_lost_commit_is_covered_by_the_next_and_commits_are_idempotent(pg, orders):
    s = sink(orders)
    for checkpoint in (1, 2, 3):
        write(s, ROWS[(checkpoint - 1) * 10 : checkpoint * 10])
        s.prepare_checkpoint(checkpoint)
    s.commit_checkpoint(2)  # the commit of 1 never came: 2 covers it
    assert await table(pg, orders) == expect(ROWS[:20])
    s.commit_checkpoint(2)
    s.commit_checkpoint(1)
    s.commit_checkpoint(3)
    s.commit_checkpoint(3)
    assert await table(pg, orders) == expect(ROWS[:30])
    s.conn.close()


async def test_recover_without_a_committed_checkpoint_discards_everything(pg, orders):
    first = sink(orders)
    write(first, ROWS[:10])
    first.prepare_checkpoint(1)
    first.conn.close()
    again = sink(orders)
    again.recover(None)
    assert await table(pg, orders) == []
    assert await staged(pg, orders) == 0
    again.conn.close()


async def test_upsert_keeps_the_last_row_of_a_key_across_batches_and_checkpoints(pg, orders):
    await pg.execute(f"INSERT INTO {orders}.orders (id, name) VALUES (1, 'old'), (2, 'old')")
    s = sink(orders, mode="upsert", key_columns=["id"])
    write(s, [{"id": 1, "name": "a"}, {"id": 3, "name": "a"}, {"id": 1, "name": "b"}])
    s.prepare_checkpoint(1)
    write(s, [{"id": 3, "name": "c"}])
    s.prepare_checkpoint(2)
    write(s, [{"id": 3, "name": "d"}, {"id": 2, "name": "d"}])
    s.prepare_checkpoint(3)
    s.commit_checkpoint(2)
    assert await table(pg, orders) == [(1, "b"), (2, "old"), (3, "c")]
    s.commit_checkpoint(3)
    assert await table(pg, orders) == [(1, "b"), (2, "d"), (3, "d")]
    s.conn.close()


async def test_missing_columns_get_their_default_and_a_schema_change_mid_checkpoint(pg, orders):
    s = sink(orders)
    write(s, [{"id": 1, "name": "a"}])
    write(s, [{"id": 2}])  # another column list in the same checkpoint
    s.prepare_checkpoint(1)
    s.commit_checkpoint(1)
    got = await table(pg, orders, "SELECT id, name, noted IS NOT NULL FROM {}.orders ORDER BY id")
    assert got == [(1, "a", True), (2, None, True)]
    s.conn.close()


async def test_create_table_with_staging(pg, pg_schema):
    s = sink(pg_schema, create_table=True)
    write(s, ROWS[:3])
    s.prepare_checkpoint(1)
    assert await table(pg, pg_schema) == []  # the table exists, still empty
    s.commit_checkpoint(1)
    assert await table(pg, pg_schema) == expect(ROWS[:3])
    s.conn.close()


async def test_a_constraint_broken_at_commit_fails_it_whole_and_keeps_the_rows(pg, orders):
    s = sink(orders)
    write(s, ROWS[:5])
    write(s, ROWS[4:6])  # id 5 twice: insert mode cannot take it
    s.prepare_checkpoint(1)
    with pytest.raises(psycopg.errors.UniqueViolation):
        s.commit_checkpoint(1)
    assert await table(pg, orders) == []  # nothing half-published
    assert await staged(pg, orders) == 7
    s.conn.close()


async def test_two_sinks_on_one_table_keep_their_staged_rows_apart(pg, orders):
    a, b = sink(orders, node="a"), sink(orders, node="b")
    write(a, ROWS[:5])
    write(b, ROWS[5:10])
    a.prepare_checkpoint(1)
    b.prepare_checkpoint(1)
    a.commit_checkpoint(1)
    assert await table(pg, orders) == expect(ROWS[:5])
    b.conn.close()
    again = sink(orders, node="b")
    again.recover(None)  # b's run starts over; a's rows are untouched
    assert await table(pg, orders) == expect(ROWS[:5])
    for s in (a, again):
        s.conn.close()


async def test_at_least_once_writes_through_as_before(pg, orders):
    s = sink(orders, delivery="at_least_once")
    s.recover(3)  # nothing staged in this mode: nothing to do
    write(s, ROWS[:5])
    assert await table(pg, orders) == expect(ROWS[:5])  # committed with its batch
    s.prepare_checkpoint(1)
    s.commit_checkpoint(1)
    assert await table(pg, orders) == expect(ROWS[:5])
    assert await staged(pg, orders) == 0
    found = await (
        await pg.execute(f"SELECT to_regclass('{orders}.orders__dataflow_staging')")
    ).fetchone()
    assert found == (None,)
    s.conn.close()


async def test_a_column_added_to_the_table_reaches_the_staging_table(pg, orders):
    first = sink(orders)
    write(first, ROWS[:2])
    first.prepare_checkpoint(1)
    first.commit_checkpoint(1)
    first.conn.close()
    await pg.execute(f"ALTER TABLE {orders}.orders ADD COLUMN amount numeric(8,2)")
    again = sink(orders)
    write(again, [{"id": 3, "name": "n3", "amount": 1.5}])
    again.prepare_checkpoint(2)
    again.commit_checkpoint(2)
    got = await table(pg, orders, "SELECT id, amount::text FROM {}.orders ORDER BY id")
    assert got == [(1, None), (2, None), (3, "1.50")]
    again.conn.close()
