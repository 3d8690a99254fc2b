"""lookup_join: enrich records from a CSV/Parquet file, a PostgreSQL query or Redis hashes."""

import logging
import uuid

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis
from psycopg import sql

from dataflow.processor import SchemaError
from dataflow_processors.lookup_join import LookupJoin

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
ORDERS = [
    {"order_id": 10, "customer_id": 1},
    {"order_id": 11, "customer_id": 3},
    {"order_id": 12, "customer_id": 2},
    {"order_id": 13, "customer_id": None},
]
BY_ID = {"key_columns": ["customer_id"], "lookup_key_columns": ["id"]}


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


async def joined(config, batches, *, clock=None, between=None):
    """Rows per port, batch after batch; `between(i)` runs before batch i > 0."""
    proc = LookupJoin(LookupJoin.parse_config(config))
    proc.clock = clock or Clock()
    await proc.open()
    out = []
    try:
        for i, rows in enumerate(batches):
            if i and between:
                between(i)
            result = proc.transform(pa.RecordBatch.from_pylist(rows))
            out.append({port: table.to_pylist() for port, table in result.items()})
    finally:
        await proc.close()
    return out


@pytest.fixture
def customers_csv(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("id,name,tier\n1,Ann,gold\n2,Bob,silver\n2,Bobby,bronze\n")
    return path


# -- files ---------------------------------------------------------------------------------
async def test_csv_matched_records_get_the_columns_unmatched_are_routed(customers_csv, caplog):
    with caplog.at_level(logging.WARNING):
        (out,) = await joined(
            {"reference": {"kind": "file", "path": str(customers_csv)}, **BY_ID}, [ORDERS]
        )
    assert out == {
        "out": [
            {"order_id": 10, "customer_id": 1, "name": "Ann", "tier": "gold"},
            {"order_id": 12, "customer_id": 2, "name": "Bob", "tier": "silver"},  # first row
        ],
        "unmatched": [ORDERS[1], ORDERS[3]],
    }
    assert "1 reference rows repeat a key" in caplog.text


async def test_keep_unmatched_with_nulls_chosen_columns_and_a_prefix(customers_csv):
    config = {"reference": {"kind": "file", "path": str(customers_csv)}, **BY_ID,
              "unmatched": "keep", "columns": ["tier"], "prefix": "customer_"}  # fmt: skip
    (out,) = await joined(config, [ORDERS])
    assert out == {
        "out": [
            {**ORDERS[0], "customer_tier": "gold"},
            {**ORDERS[1], "customer_tier": None},
            {**ORDERS[2], "customer_tier": "silver"},
            {**ORDERS[3], "customer_tier": None},
        ]
    }
    assert LookupJoin.output_ports(LookupJoin.parse_config(config)) == ("out",)


async def test_the_file_is_reloaded_every_refresh_seconds(customers_csv):
    clock = Clock()

    def edit(i):
        customers_csv.write_text("id,name\n1,Ann B.\n3,Cy\n")
        clock.now += 30 if i == 1 else 31  # 30 s: not yet; 61 s: reload

    config = {"reference": {"kind": "file", "path": str(customers_csv)}, **BY_ID,
              "columns": ["name"], "refresh_seconds": 60}  # fmt: skip
    outs = await joined(config, [ORDERS[:2]] * 3, clock=clock, between=edit)
    assert [o["out"] for o in outs] == [
        [{**ORDERS[0], "name": "Ann"}],
        [{**ORDERS[0], "name": "Ann"}],
        [{**ORDERS[0], "name": "Ann B."}, {**ORDERS[1], "name": "Cy"}],
    ]


async def test_parquet_with_a_composite_key_of_other_types(tmp_path):
    path = tmp_path / "prices.parquet"
    prices = {"sku": ["a", "a", "b"], "region": [1, 2, 1], "price": [1.5, 2.5, 9.0]}
    pq.write_table(pa.table(prices, schema=pa.schema([("sku", pa.string()),
                   ("region", pa.int32()), ("price", pa.float64())])), path)  # fmt: skip
    config = {"reference": {"kind": "file", "path": str(path)}, "key_columns": ["sku", "region"]}
    rows = [{"sku": "a", "region": 2}, {"sku": "b", "region": 2}, {"sku": "b", "region": 1}]
    (out,) = await joined(config, [rows])  # region: int64 here, int32 in the file
    assert out == {
        "out": [{"sku": "a", "region": 2, "price": 2.5}, {"sku": "b", "region": 1, "price": 9.0}],
        "unmatched": [{"sku": "b", "region": 2}],
    }


async def test_a_clashing_column_asks_for_a_prefix(customers_csv):
    rows = [{"customer_id": 1, "name": "x"}]
    with pytest.raises(ValueError, match=r'"name" clashes with the input column .*set a prefix'):
        await joined({"reference": {"kind": "file", "path": str(customers_csv)}, **BY_ID}, [rows])


async def test_a_missing_lookup_column_fails_the_start(customers_csv):
    config = {
        "reference": {"kind": "file", "path": str(customers_csv)},
        "key_columns": ["customer_id"],
    }
    with pytest.raises(ValueError, match=r"lookup_key_columns\[0\]: .* no column 'customer_id'"):
        await joined(config, [])


# -- PostgreSQL ----------------------------------------------------------------------------
@pytest.fixture
def pg_schema():
    """A fresh schema on the real server, dropped with everything in it afterwards."""
    name = f"df_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        try:
            yield conn, name
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


async def test_postgres_lookup_with_refresh(pg_schema):
    conn, schema = pg_schema
    table = sql.Identifier(schema, "customers")
    conn.execute(sql.SQL("CREATE TABLE {} (id bigint, name text, tier text)").format(table))
    conn.execute(
        sql.SQL("INSERT INTO {} VALUES (1, 'Ann', 'gold'), (2, 'Bob', NULL)").format(table)
    )
    clock = Clock()

    def update(i):
        conn.execute(sql.SQL("UPDATE {} SET tier = 'vip' WHERE id = 2").format(table))
        conn.execute(sql.SQL("INSERT INTO {} VALUES (3, 'Cy', 'new')").format(table))
        clock.now += 10

    ref = {"kind": "postgres", "dsn": PG_DSN,
           "query": f'SELECT id, name, tier FROM "{schema}".customers'}  # fmt: skip
    config = {"reference": ref, **BY_ID, "refresh_seconds": 10}
    first, second = await joined(config, [ORDERS, ORDERS], clock=clock, between=update)
    assert first == {
        "out": [
            {**ORDERS[0], "name": "Ann", "tier": "gold"},
            {**ORDERS[2], "name": "Bob", "tier": None},
        ],
        "unmatched": [ORDERS[1], ORDERS[3]],
    }
    assert second["out"] == [
        {**ORDERS[0], "name": "Ann", "tier": "gold"},
        {**ORDERS[1], "name": "Cy", "tier": "new"},
        {**ORDERS[2], "name": "Bob", "tier": "vip"},
    ]


async def test_postgres_failed_refresh_keeps_the_table(pg_schema, caplog):
    conn, schema = pg_schema
    conn.execute(sql.SQL("CREATE TABLE {} AS SELECT 1::bigint AS id, 'Ann' AS name").format(
        sql.Identifier(schema, "c")))  # fmt: skip
    clock = Clock()

    def drop(i):
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, "c")))
        clock.now += 5

    ref = {"kind": "postgres", "dsn": PG_DSN, "query": f'SELECT * FROM "{schema}".c'}
    config = {"reference": ref, **BY_ID, "refresh_seconds": 1}
    with caplog.at_level(logging.WARNING):
        outs = await joined(config, [ORDERS[:1]] * 2, clock=clock, between=drop)
    assert outs[1]["out"] == [{**ORDERS[0], "name": "Ann"}]
    assert "refresh failed, keeping the previous table" in caplog.text
    assert "does not exist" in caplog.text


async def test_postgres_errors_say_where():
    ref = {"kind": "postgres", "dsn": "postgresql://postgres@127.0.0.1:1/test",
           "query": "SELECT 1 AS id"}  # fmt: skip
    config = {"reference": ref, **BY_ID}
    with pytest.raises(ConnectionError, match=r"PostgreSQL at 127\.0\.0\.1:1/test failed"):
        await joined(config, [])


# -- Redis ---------------------------------------------------------------------------------
@pytest.fixture
def redis_prefix():
    """A key prefix on the real server; its keys are deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    prefix = f"df_test:{uuid.uuid4().hex[:12]}:"
    try:
        yield client, prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


async def test_redis_hashes_by_key_template_through_an_lru_cache(redis_prefix):
    client, prefix = redis_prefix
    client.hset(f"{prefix}customer:1", mapping={"name": "Ann", "tier": "gold"})
    client.hset(f"{prefix}customer:2", mapping={"name": "Bob"})
    clock = Clock()

    def change(i):
        client.hset(f"{prefix}customer:1", "tier", "vip")
        client.hset(f"{prefix}customer:3", mapping={"name": "Cy", "tier": "new"})
        clock.now += 5 if i == 1 else 6  # entries live 10 s: cached at 105, re-read at 111

    ref = {"kind": "redis", "url": REDIS_URL, "key": prefix + "customer:{customer_id}",
           "cache_size": 3}  # fmt: skip
    config = {"reference": ref, "columns": ["name", "tier"], "refresh_seconds": 10}
    outs = await joined(config, [ORDERS, ORDERS[:1], ORDERS[:2]], clock=clock, between=change)
    assert outs[0] == {
        "out": [
            {**ORDERS[0], "name": "Ann", "tier": "gold"},
            {**ORDERS[2], "name": "Bob", "tier": None},  # a field the hash lacks
        ],
        "unmatched": [ORDERS[1], ORDERS[3]],  # no hash; null key
    }
    assert outs[1]["out"] == [{**ORDERS[0], "name": "Ann", "tier": "gold"}]  # from the cache
    assert outs[2]["out"] == [
        {**ORDERS[0], "name": "Ann", "tier": "vip"},  # expired: read again
        {**ORDERS[1], "name": "Cy", "tier": "new"},  # a miss is not cached for long either
    ]


async def test_redis_cache_keeps_the_most_recently_used_keys(redis_prefix):
    client, prefix = redis_prefix
    for i in range(1, 5):
        client.hset(f"{prefix}c:{i}", "name", f"n{i}")
    config = {
        "reference": {"kind": "redis", "url": REDIS_URL, "key": prefix + "c:{id}", "cache_size": 2}
    }
    proc = LookupJoin(LookupJoin.parse_config(config))
    await proc.open()
    try:
        for ids in ([1, 2], [3], [1], [4]):
            out = proc.transform(pa.RecordBatch.from_pylist([{"id": i} for i in ids]))
            assert out["out"].column("name").to_pylist() == [f"n{i}" for i in ids]
    finally:
        await proc.close()
    assert list(proc.cache) == [f"{prefix}c:1", f"{prefix}c:4"]


async def test_redis_unreachable_fails_the_start():
    config = {"reference": {"kind": "redis", "url": "redis://127.0.0.1:1/0", "key": "c:{id}"}}
    with pytest.raises(ConnectionError, match=r"cannot connect to Redis at 127\.0\.0\.1:1"):
        await joined(config, [])


# -- design time ---------------------------------------------------------------------------
SCHEMA = pa.schema([("order_id", pa.int64()), ("customer_id", pa.int64())])


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({"reference": {"kind": "file", "path": "c.csv"}, "key_columns": ["customer_id", "cid"],
          "lookup_key_columns": ["id", "x"]}, "key_columns[1]", 'column "cid" does not exist'),
        ({"reference": {"kind": "redis", "url": REDIS_URL, "key": "c:{cust}"}}, "reference.key",
         '"cust" does not'),
        ({"reference": {"kind": "file", "path": "c.csv"}, **BY_ID,
          "columns": ["name", "order_id"]},
         "columns[1]", '"order_id" is an upstream column already: set a prefix'),
    ],
)  # fmt: skip
def test_design_time_errors_name_the_field(config, field, message):
    with pytest.raises(SchemaError, match=message) as caught:
        LookupJoin(LookupJoin.parse_config(config)).output_schema({"in": SCHEMA})
    assert caught.value.field == field


def test_output_schema_when_it_is_known():
    ref = {"kind": "redis", "url": REDIS_URL, "key": "c:{customer_id}"}
    redis_config = {"reference": ref, "columns": ["name"], "prefix": "c_"}
    schemas = LookupJoin(LookupJoin.parse_config(redis_config)).output_schema({"in": SCHEMA})
    assert schemas == {"unmatched": SCHEMA, "out": SCHEMA.append(pa.field("c_name", pa.string()))}
    file_config = {"reference": {"kind": "file", "path": "c.csv"}, **BY_ID, "unmatched": "keep"}
    assert LookupJoin(LookupJoin.parse_config(file_config)).output_schema({"in": SCHEMA}) == {}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"reference": {"kind": "file"}, **BY_ID},
         r"missing required field `path` - at `\$.reference`"),
        ({"reference": {"kind": "postgres", "dsn": PG_DSN}, **BY_ID},
         r"missing required field `query` - at `\$.reference`"),
        ({"reference": {"kind": "ftp", "path": "c.csv"}, **BY_ID},
         r"Invalid value 'ftp' - at `\$.reference.kind`"),
        ({"reference": {"kind": "file", "path": "c.csv", "dsn": PG_DSN}, **BY_ID},
         r"unknown field `dsn` - at `\$.reference`"),
        ({"reference": {"kind": "postgres", "dsn": "host", "query": "SELECT 1"}, **BY_ID},
         "dsn is not a valid connection string"),
        ({"reference": {"kind": "file", "path": "c.csv"}},
         "key_columns: required with reference file"),
        ({"reference": {"kind": "file", "path": "c.csv"}, "key_columns": ["a"],
          "lookup_key_columns": ["x", "y"]}, "lookup_key_columns: as many columns"),
        ({"reference": {"kind": "redis", "url": REDIS_URL, "key": "c:{id"}}, "key: "),
        ({"reference": {"kind": "redis", "url": REDIS_URL, "key": "customers"}},
         "the template names no col"),
        ({"reference": {"kind": "redis", "url": "http://x", "key": "c:{id}"}}, "redis://"),
        ({"reference": {"kind": "redis", "url": REDIS_URL, "key": "c:{id}"}, **BY_ID},
         "key template names"),
    ],
)  # fmt: skip
def test_config_errors(config, message):
    with pytest.raises(Exception, match=message):
        LookupJoin.parse_config(config)
