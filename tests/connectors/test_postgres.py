"""postgres_query and postgres_write against the real PostgreSQL: rows, offsets, COPY, upsert,
type mapping, clear errors, and recovery from an outage (through a TCP proxy)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from decimal import Decimal

import msgspec
import pyarrow as pa
import pytest

from dataflow.processor import SchemaError
from dataflow_processors.postgres_query import PostgresQuery
from dataflow_processors.postgres_write import PostgresWrite
from tests.connectors.db_fixtures import PG_DSN, make, pull, rows, write_all

pytest_plugins = ["tests.connectors.db_fixtures"]  # its fixtures

UTC = dt.UTC


def proxied(proxy) -> str:
    return f"postgresql://postgres@127.0.0.1:{proxy.port}/test"


async def fetch(pg, query: str) -> list[tuple]:
    return await (await pg.execute(query)).fetchall()


async def make_orders(pg, schema: str, n: int) -> None:
    await pg.execute(
        f"CREATE TABLE {schema}.orders (id int PRIMARY KEY, amount numeric(8,2), status text,"
        " at timestamptz)"
    )
    await add_orders(pg, schema, 1, n)


async def add_orders(pg, schema: str, first: int, last: int) -> None:
    await pg.execute(
        f"INSERT INTO {schema}.orders SELECT g, g * 1.5, CASE WHEN g % 2 = 0 THEN 'paid' END,"
        f" '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute'"
        f" FROM generate_series({first}, {last}) g"
    )


# -- postgres_query ------------------------------------------------------------------------
async def test_query_once_emits_exact_rows_as_arrow(pg, pg_schema, tmp_path):
    await make_orders(pg, pg_schema, 3)
    source = make(
        PostgresQuery,
        {"dsn": PG_DSN, "query": f"SELECT * FROM {pg_schema}.orders ORDER BY id;"},
        tmp_path,
    )
    await source.open()
    batches = await pull(source, 10)
    await source.close()
    assert rows(batches) == [
        {
            "id": i,
            "amount": f"{i * 1.5:.2f}",
            "status": "paid" if i % 2 == 0 else None,
            "at": dt.datetime(2024, 1, 1, 0, i, tzinfo=UTC),
        }
        for i in (1, 2, 3)
    ]
    # numeric keeps its exact text; the rest are native Arrow types
    assert [f.type for f in batches[0].schema] == [
        pa.int32(),
        pa.string(),
        pa.string(),
        pa.timestamp("us", tz="UTC"),
    ]
    assert source.offset() is None  # no tracking column: nothing to resume from


async def test_batch_size_splits_the_result(pg, pg_schema, tmp_path):
    await make_orders(pg, pg_schema, 2500)
    config = {"dsn": PG_DSN, "query": f"SELECT id FROM {pg_schema}.orders", "batch_size": 1000}
    source = make(PostgresQuery, config, tmp_path)
    await source.open()
    batches = await pull(source, 10)
    await source.close()
    assert [b.num_rows for b in batches] == [1000, 1000, 500]
    assert sorted(r["id"] for r in rows(batches)) == list(range(1, 2501))


async def test_incremental_polls_pick_up_only_new_rows_and_resume_from_offset(
    pg, pg_schema, tmp_path
):
    await make_orders(pg, pg_schema, 3)
    config = {
        "dsn": PG_DSN,
        "query": f"SELECT id, status FROM {pg_schema}.orders",
        "mode": "schedule",
        "interval_seconds": 0.05,
        "tracking_column": "id",
    }
    source = make(PostgresQuery, config, tmp_path)
    await source.open()
    stream = source.batches()
    assert [r["id"] for r in (await anext(stream)).to_pylist()] == [1, 2, 3]
    assert source.offset() == 3
    await add_orders(pg, pg_schema, 4, 5)
    assert [r["id"] for r in (await anext(stream)).to_pylist()] == [4, 5]  # not 1..3 again
    assert source.offset() == 5
    await stream.aclose()
    await source.close()

    # A new run restored from the offset reads only what came after it.
    await add_orders(pg, pg_schema, 6, 6)
    again = make(PostgresQuery, {**config, "mode": "once"}, tmp_path)
    again.restore(5)
    await again.open()
    assert rows(await pull(again, 10)) == [{"id": 6, "status": "paid"}]
    await again.close()


async def test_incremental_on_a_timestamp_restores_from_json_offset(pg, pg_schema, tmp_path):
    await make_orders(pg, pg_schema, 4)
    config = {
        "dsn": PG_DSN,
        "query": f"SELECT id, at FROM {pg_schema}.orders",
        "tracking_column": "at",
    }
    source = make(PostgresQuery, config, tmp_path)
    await source.open()
    await pull(source, 10)
    await source.close()
    offset = source.offset()
    assert offset == "2024-01-01T00:04:00+00:00"
    assert msgspec.json.decode(msgspec.json.encode(offset)) == offset

    await add_orders(pg, pg_schema, 5, 6)
    again = make(PostgresQuery, config, tmp_path)
    again.restore(offset)
    await again.open()
    assert [r["id"] for r in rows(await pull(again, 10))] == [5, 6]
    await again.close()


async def test_query_errors_are_clear(pg_schema, tmp_path):
    source = make(
        PostgresQuery, {"dsn": PG_DSN, "query": f"SELECT * FROM {pg_schema}.nope"}, tmp_path
    )
    await source.open()
    with pytest.raises(ValueError, match=rf'query failed: relation "{pg_schema}.nope" does not'):
        await pull(source, 1)
    await source.close()


async def test_bad_dsn_names_host_and_database_but_not_the_password(tmp_path):
    config = {
        "dsn": "postgresql://postgres@127.0.0.1:1/shop",
        "password": "hunter2",
        "query": "SELECT 1",
    }
    with pytest.raises(ConnectionError) as info:
        await make(PostgresQuery, config, tmp_path).open()
    assert str(info.value).startswith("cannot connect to PostgreSQL at 127.0.0.1:1/shop: ")
    assert "hunter2" not in str(info.value)
    with pytest.raises(ConnectionError, match=r'127\.0\.0\.1:5432/nodb: database "nodb" does not'):
        await make(
            PostgresWrite, {"dsn": "postgresql://postgres@127.0.0.1/nodb", "table": "t"}, tmp_path
        ).open()
    with pytest.raises(msgspec.ValidationError, match="dsn is not a valid connection string"):
        PostgresQuery.parse_config({"dsn": "host=a =b", "query": "SELECT 1"})


async def test_query_reconnects_with_backoff_and_recovers(
    pg, pg_schema, pg_proxy, tmp_path, caplog
):
    await make_orders(pg, pg_schema, 2)
    config = {
        "dsn": proxied(pg_proxy),
        "query": f"SELECT id FROM {pg_schema}.orders",
        "mode": "schedule",
        "interval_seconds": 0.05,
        "tracking_column": "id",
        "retry_backoff_seconds": 0.05,
    }
    source = make(PostgresQuery, config, tmp_path)
    await source.open()
    stream = source.batches()
    assert [r["id"] for r in (await anext(stream)).to_pylist()] == [1, 2]

    await pg_proxy.stop()
    await add_orders(pg, pg_schema, 3, 3)
    with caplog.at_level(logging.WARNING):
        waiting = asyncio.ensure_future(anext(stream))
        while "cannot connect" not in caplog.text:  # lost it, then failed to reconnect
            await asyncio.sleep(0.02)
    assert f"lost PostgreSQL at 127.0.0.1:{pg_proxy.port}/test" in caplog.text
    assert f"cannot connect to PostgreSQL at 127.0.0.1:{pg_proxy.port}/test" in caplog.text
    assert not waiting.done()

    await pg_proxy.start()
    batch = await asyncio.wait_for(waiting, 10)
    assert batch.to_pylist() == [{"id": 3}]  # resumed after the last row emitted
    await stream.aclose()
    await source.close()


async def test_connection_lost_mid_result_resumes_after_the_last_row_emitted(
    pg, pg_schema, pg_proxy, tmp_path, caplog
):
    n = 200_000  # ~40 MB: more than the socket buffers hold, so the outage cuts the stream
    await pg.execute(
        f"CREATE TABLE {pg_schema}.wide AS SELECT g AS id, repeat('x', 200) AS pad"
        f" FROM generate_series(1, {n}) g"
    )
    config = {
        "dsn": proxied(pg_proxy),
        "query": f"SELECT id, pad FROM {pg_schema}.wide",
        "tracking_column": "id",
        "batch_size": 10_000,
        "retry_backoff_seconds": 0.05,
    }
    source = make(PostgresQuery, config, tmp_path)
    await source.open()
    stream = source.batches()
    ids = (await anext(stream)).column("id").to_pylist()
    await pg_proxy.stop()

    async def rest() -> None:
        async for batch in stream:
            ids.extend(batch.column("id").to_pylist())

    with caplog.at_level(logging.WARNING):
        reading = asyncio.ensure_future(rest())
        while "cannot connect" not in caplog.text:
            await asyncio.sleep(0.02)
    assert "lost PostgreSQL at" in caplog.text
    await pg_proxy.start()
    await asyncio.wait_for(reading, 20)
    await source.close()
    assert ids == list(range(1, n + 1))  # every row once: no gap, no repeat


async def test_a_stop_during_a_running_query_cancels_it_on_the_server(pg, pg_schema, tmp_path):
    marker = f"slept_{pg_schema}"  # tells this query from those of tests running alongside
    source = make(
        PostgresQuery, {"dsn": PG_DSN, "query": f"SELECT pg_sleep(30) AS {marker}"}, tmp_path
    )
    await source.open()
    stream = source.batches()
    reading = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.3)  # the query is running in a worker thread
    started = asyncio.get_running_loop().time()
    reading.cancel()  # what the engine does to a source on stop
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert asyncio.get_running_loop().time() - started < 5
    await source.close()
    running = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE "
    running += f"'%{marker}%' AND pid <> pg_backend_pid()"
    # The server ends the backend a moment after the client closes: allow it that moment,
    # far less than the 30 s the query would run without the cancel.
    for _ in range(50):
        if await fetch(pg, running) == [(0,)]:
            break
        await asyncio.sleep(0.1)
    assert await fetch(pg, running) == [(0,)]


async def test_query_gives_up_after_reconnect_seconds(pg_proxy, tmp_path):
    config = {
        "dsn": proxied(pg_proxy),
        "query": "SELECT 1 AS x",
        "mode": "schedule",
        "interval_seconds": 0.05,
        "retry_backoff_seconds": 0.05,
        "reconnect_seconds": 0.2,
    }
    source = make(PostgresQuery, config, tmp_path)
    await source.open()
    stream = source.batches()
    assert (await anext(stream)).to_pylist() == [{"x": 1}]
    await pg_proxy.stop()
    with pytest.raises(ConnectionError, match=r"PostgreSQL at .*\(gave up reconnecting\)"):
        await asyncio.wait_for(anext(stream), 10)
    await source.close()


# -- postgres_write ------------------------------------------------------------------------
ALL_TYPES = pa.RecordBatch.from_pydict(
    {
        "b": pa.array([True, None], pa.bool_()),
        "i8": pa.array([-8, None], pa.int8()),
        "i32": pa.array([32, None], pa.int32()),
        "i64": pa.array([2**40, None], pa.int64()),
        "u64": pa.array([2**64 - 1, None], pa.uint64()),
        "f32": pa.array([1.5, None], pa.float32()),
        "f64": pa.array([float("inf"), None], pa.float64()),
        "s": pa.array(['a "q", b\nc ü', ""], pa.string()),
        "bin": pa.array([b"\x00\xff", None], pa.binary()),
        "d": pa.array([dt.date(2024, 2, 29), None], pa.date32()),
        "ts": pa.array([dt.datetime(2024, 1, 1, 12, 30, 0, 123456), None], pa.timestamp("us")),
        "tstz": pa.array([dt.datetime(2024, 1, 1, tzinfo=UTC), None], pa.timestamp("ms", "UTC")),
        "paris": pa.array(
            [dt.datetime(2024, 7, 1, 12, tzinfo=UTC), None], pa.timestamp("us", "Europe/Paris")
        ),
        "t": pa.array([dt.time(23, 59, 1), None], pa.time64("us")),
        "dec": pa.array([Decimal("12.34"), None], pa.decimal128(6, 2)),
        "tags": pa.array([[1, 2], None], pa.list_(pa.int64())),
        "meta": pa.array([{"k": "v"}, None], pa.struct([("k", pa.string())])),
    }
)


async def test_create_table_maps_arrow_types_and_rows_round_trip(pg, pg_schema, tmp_path):
    table = f"{pg_schema}.everything"
    sink = make(PostgresWrite, {"dsn": PG_DSN, "table": table, "create_table": True}, tmp_path)
    await write_all(sink, [ALL_TYPES])
    types = await fetch(
        pg,
        "SELECT column_name, data_type, numeric_precision, numeric_scale"
        f" FROM information_schema.columns WHERE table_schema = '{pg_schema}'"
        " AND table_name = 'everything' ORDER BY ordinal_position",
    )
    assert [(name, kind) for name, kind, *_ in types] == [
        ("b", "boolean"),
        ("i8", "smallint"),
        ("i32", "integer"),
        ("i64", "bigint"),
        ("u64", "numeric"),
        ("f32", "real"),
        ("f64", "double precision"),
        ("s", "text"),
        ("bin", "bytea"),
        ("d", "date"),
        ("ts", "timestamp without time zone"),
        ("tstz", "timestamp with time zone"),
        ("paris", "timestamp with time zone"),
        ("t", "time without time zone"),
        ("dec", "numeric"),
        ("tags", "jsonb"),
        ("meta", "jsonb"),
    ]
    assert types[14][2:] == (6, 2)
    names = ALL_TYPES.schema.names
    got = [
        dict(zip(names, row, strict=True))
        for row in await fetch(pg, f"SELECT * FROM {table} ORDER BY s DESC")
    ]
    assert got[0] == {
        "b": True,
        "i8": -8,
        "i32": 32,
        "i64": 2**40,
        "u64": Decimal(2**64 - 1),
        "f32": 1.5,
        "f64": float("inf"),
        "s": 'a "q", b\nc ü',
        "bin": b"\x00\xff",
        "d": dt.date(2024, 2, 29),
        "ts": dt.datetime(2024, 1, 1, 12, 30, 0, 123456),
        "tstz": dt.datetime(2024, 1, 1, tzinfo=UTC),
        "paris": dt.datetime(2024, 7, 1, 12, tzinfo=UTC),  # the same instant
        "t": dt.time(23, 59, 1),
        "dec": Decimal("12.34"),
        "tags": [1, 2],
        "meta": {"k": "v"},
    }
    # an empty string stays empty, every null stays null
    assert got[1] == {n: "" if n == "s" else None for n in names}


async def test_copy_loads_10000_rows_in_one_batch(pg, pg_schema, tmp_path):
    n = 10_000
    batch = pa.RecordBatch.from_pydict(
        {"id": pa.array(range(n), pa.int64()), "name": [f"row {i}" for i in range(n)]}
    )
    sink = make(
        PostgresWrite, {"dsn": PG_DSN, "table": f"{pg_schema}.big", "create_table": True}, tmp_path
    )
    await write_all(sink, [batch])
    assert await fetch(pg, f"SELECT count(*), sum(id), max(name) FROM {pg_schema}.big") == [
        (n, n * (n - 1) // 2, "row 9999")
    ]


async def test_insert_into_existing_table_fills_defaults_and_matches_by_name(
    pg, pg_schema, tmp_path
):
    await pg.execute(f"CREATE TABLE {pg_schema}.t (id int, note text DEFAULT 'none', n int)")
    sink = make(PostgresWrite, {"dsn": PG_DSN, "table": f"{pg_schema}.t"}, tmp_path)
    await write_all(sink, [[{"n": 10, "id": 1}], [{"n": 20, "id": 2}]])
    assert await fetch(pg, f"SELECT * FROM {pg_schema}.t ORDER BY id") == [
        (1, "none", 10),
        (2, "none", 20),
    ]


async def test_upsert_updates_existing_keys_last_row_wins(pg, pg_schema, tmp_path):
    table = f"{pg_schema}.customers"
    config = {
        "dsn": PG_DSN,
        "table": table,
        "mode": "upsert",
        "key_columns": ["id"],
        "create_table": True,
    }
    sink = make(PostgresWrite, config, tmp_path)
    await write_all(
        sink,
        [
            [{"id": 1, "name": "ann", "city": "Oslo"}, {"id": 2, "name": "bob", "city": "Rome"}],
            # updates 2 (twice in one batch: the last row wins) and inserts 3
            [
                {"id": 2, "name": "bob", "city": "Nice"},
                {"id": 3, "name": "cy", "city": "Lima"},
                {"id": 2, "name": "bobby", "city": "Pisa"},
            ],
        ],
    )
    assert await fetch(pg, f"SELECT * FROM {table} ORDER BY id") == [
        (1, "ann", "Oslo"),
        (2, "bobby", "Pisa"),
        (3, "cy", "Lima"),
    ]
    primary_key = await fetch(
        pg,
        f"SELECT a.attname FROM pg_index i JOIN pg_attribute a ON "
        f"a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE "
        f"i.indrelid = '{table}'::regclass AND i.indisprimary",
    )
    assert primary_key == [("id",)]


async def test_upsert_of_a_subset_of_columns_keeps_the_others(pg, pg_schema, tmp_path):
    await pg.execute(f"CREATE TABLE {pg_schema}.stock (sku text PRIMARY KEY, qty int, label text)")
    await pg.execute(f"INSERT INTO {pg_schema}.stock VALUES ('a', 1, 'Apple')")
    config = {
        "dsn": PG_DSN,
        "table": f"{pg_schema}.stock",
        "mode": "upsert",
        "key_columns": ["sku"],
    }
    await write_all(make(PostgresWrite, config, tmp_path), [[{"sku": "a", "qty": 5}]])
    assert await fetch(pg, f"SELECT * FROM {pg_schema}.stock") == [("a", 5, "Apple")]


async def test_wrong_column_is_a_clear_error_and_writes_nothing(pg, pg_schema, tmp_path):
    await pg.execute(f"CREATE TABLE {pg_schema}.orders (id int, amount int)")
    sink = make(PostgresWrite, {"dsn": PG_DSN, "table": f"{pg_schema}.orders"}, tmp_path)
    message = (
        rf"column\(s\) amout not in table {pg_schema}.orders "
        r"\(table columns: id, amount\)"
    )
    with pytest.raises(ValueError, match=message):
        await write_all(sink, [[{"id": 1, "amout": 5}]])
    with pytest.raises(ValueError, match=r"does not exist \(turn on create_table"):
        await write_all(
            make(PostgresWrite, {"dsn": PG_DSN, "table": f"{pg_schema}.nope"}, tmp_path),
            [[{"id": 1}]],
        )
    bad_value = make(PostgresWrite, {"dsn": PG_DSN, "table": f"{pg_schema}.orders"}, tmp_path)
    with pytest.raises(Exception, match='invalid input syntax for type integer: "x"'):
        await write_all(bad_value, [[{"id": 1, "amount": "7"}, {"id": 2, "amount": "x"}]])
    assert await fetch(pg, f"SELECT count(*) FROM {pg_schema}.orders") == [(0,)]


def test_write_config_and_schema_checks():
    with pytest.raises(msgspec.ValidationError, match="upsert needs at least one key column"):
        PostgresWrite.parse_config({"dsn": PG_DSN, "table": "t", "mode": "upsert"})
    with pytest.raises(msgspec.ValidationError, match="table"):
        PostgresWrite.parse_config({"dsn": PG_DSN, "table": "a.b.c"})
    sink = PostgresWrite(
        PostgresWrite.parse_config(
            {"dsn": PG_DSN, "table": "t", "mode": "upsert", "key_columns": ["sku"]}
        )
    )
    with pytest.raises(
        SchemaError,
        match=r"key column 'sku' is not in the input \(upstream "
        r"columns: id, qty\)",
    ) as info:
        sink.output_schema({"in": pa.schema([("id", pa.int64()), ("qty", pa.int64())])})
    assert info.value.field == "key_columns"


async def test_write_fails_clearly_while_down_and_recovers(pg, pg_schema, pg_proxy, tmp_path):
    table = f"{pg_schema}.events"
    config = {"dsn": proxied(pg_proxy), "table": table, "create_table": True}
    sink = make(PostgresWrite, config, tmp_path)
    await sink.open()
    await sink.write_async(pa.RecordBatch.from_pylist([{"id": 1}]))
    await pg_proxy.stop()
    with pytest.raises(ConnectionError, match=f"lost PostgreSQL at 127.0.0.1:{pg_proxy.port}/"):
        await sink.write_async(pa.RecordBatch.from_pylist([{"id": 2}]))
    with pytest.raises(ConnectionError, match=r"cannot connect to PostgreSQL at 127\.0\.0\.1:"):
        await sink.write_async(pa.RecordBatch.from_pylist([{"id": 2}]))  # the engine's retry
    await pg_proxy.start()
    await sink.write_async(pa.RecordBatch.from_pylist([{"id": 2}]))
    await sink.close()
    assert await fetch(pg, f"SELECT id FROM {table} ORDER BY id") == [(1,), (2,)]
