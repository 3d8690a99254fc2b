"""The connector examples of flowfiles/ run against the real services: each document as it is
in the repository, with only the addresses (and topic, group, table schema, output directory)
swapped for the test's own."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
from psycopg import sql

from tests.connectors.db_fixtures import PG_DSN
from tests.e2e_connectors.support import (
    FLOWFILES,
    Producer,
    TopicReader,
    eventually,
    example,
    jsonl_rows,
    node,
    unique,
)


def in_schema(schema: str) -> str:
    """The test database's URL with `schema` first on the search path: an example's
    unqualified table names land in the test's own schema."""
    return f"{PG_DSN}?options=-csearch_path%3D{schema}"


def parquet_rows(directory: Path) -> list[dict]:
    return [r for f in sorted(directory.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


async def test_postgres_incremental_to_parquet_reads_each_row_once(pg, pg_schema, tmp_path, api):
    await pg.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(pg_schema)))
    setup = (FLOWFILES / "data" / "shop_orders.sql").read_text()
    await pg.execute(setup)  # the example's own setup script: 1,000 orders

    doc = example("postgres-incremental-to-parquet")
    node(doc, "orders").update(dsn=in_schema(pg_schema), interval_seconds=0.3)
    out = tmp_path / "shop-orders"
    node(doc, "files")["directory"] = str(out)
    flow_id = api.create(doc)
    assert flow_id == "postgres-incremental-to-parquet"
    api.start(flow_id)
    watch = api.watch(flow_id)

    await eventually(
        lambda: api.records_in(flow_id, "files") >= 1000,
        "the first 1,000 rows written",
        watch=watch,
    )
    await pg.execute(setup)  # run again: 1,000 newer orders, picked up by the next poll
    await eventually(
        lambda: api.records_in(flow_id, "files") >= 2000, "2,000 rows written", watch=watch
    )
    # A graceful stop publishes the last file. (While the source waits for its next poll the
    # checkpoints that would publish it are held up: see test_checkpoints.py.)
    assert api.stop(flow_id)["state"] == "stopped"

    rows = parquet_rows(out)
    # Incremental: every row once, none read again by later polls.
    assert sorted(r["order_id"] for r in rows) == list(range(1, 2001))
    assert set(rows[0]) == {"order_id", "customer_id", "country", "amount", "status", "created_at"}
    assert isinstance(rows[0]["amount"], float)  # numeric cast in the example's query
    assert all(f.name.startswith("shop-orders-") for f in out.glob("*.parquet"))
    # The last order id read is the run's offset: a restart resumes after it.
    assert api.run(flow_id)["offsets"] == {"orders": 2000}


async def test_http_ingest_to_kafka_to_postgres(kafka_broker, pg, pg_schema, tmp_path, api):
    """The two examples chained as their descriptions say: orders POSTed to the ingest flow
    are published to Kafka, where kafka-to-postgres picks them up into paid_orders."""
    topic = await kafka_broker.create_topic(unique("orders"), partitions=3)
    ingest = example("http-ingest-to-kafka")
    # Tansu has no idempotent producer.
    node(ingest, "publish").update(
        bootstrap_servers=kafka_broker.bootstrap, topic=topic, enable_idempotence=False
    )
    rejected = tmp_path / "rejected"
    node(ingest, "rejected")["directory"] = str(rejected)
    to_pg = example("kafka-to-postgres")
    node(to_pg, "orders").update(
        bootstrap_servers=kafka_broker.bootstrap,
        topics=[topic],
        group_id=unique("orders-to-postgres"),
        session_timeout_ms=3000,
        heartbeat_interval_ms=1000,
    )
    node(to_pg, "table")["dsn"] = in_schema(pg_schema)
    for doc in (ingest, to_pg):
        api.start(api.create(doc))
    flows = ("http-ingest-to-kafka", "kafka-to-postgres")
    watch = api.watch(*flows)

    # The description's curl line.
    body = (FLOWFILES / "data" / "orders.ndjson").read_bytes()
    orders = [json.loads(line) for line in body.splitlines()]
    response = api.client.post(
        "/api/v1/ingest/http-ingest-to-kafka/orders",
        content=body,
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert (response.status_code, response.json()) == (202, {"accepted": len(orders)})
    async with Producer(kafka_broker.bootstrap) as producer:  # a record that is not JSON
        await producer.send(topic, [b"not json"])

    # Kafka: the valid orders, keyed by order id, stamped with the ingest time.
    valid = [o for o in orders if o["order_id"] <= 50]  # the sample's last two are invalid
    async with TopicReader(kafka_broker.bootstrap, topic, 3) as reader:
        await reader.until(len(valid) + 1, watch=watch)
    published = [r for r in reader.records if r["key"] is not None]
    assert sorted(r["value"]["order_id"] for r in published) == [o["order_id"] for o in valid]
    assert all(r["key"] == str(r["value"]["order_id"]).encode() for r in published)
    assert all(r["value"]["ingested_at"] for r in published)
    # PostgreSQL: the paid ones, upserted into paid_orders.
    paid = {o["order_id"]: o for o in valid if o["status"] == "paid"}

    async def table_rows() -> list[tuple]:
        try:
            cur = await pg.execute(
                sql.SQL(
                    "SELECT order_id, customer_id, country, amount, ordered_at FROM {}.paid_orders"
                    " ORDER BY order_id"
                ).format(sql.Identifier(pg_schema))
            )
        except psycopg.errors.UndefinedTable:
            return []
        rows = await cur.fetchall()
        return rows if len(rows) >= len(paid) else []

    rows = await eventually(table_rows, f"{len(paid)} rows in paid_orders", watch=watch)
    assert [r[0] for r in rows] == sorted(paid)
    first = paid[rows[0][0]]
    assert rows[0][1:4] == (first["customer_id"], first["country"].upper(), first["amount"])
    assert rows[0][4].isoformat(sep=" ") == first["ts"]
    await eventually(
        lambda: api.records_in("kafka-to-postgres", "undecodable") == 1,
        "the record that is not JSON, logged",
    )
    for flow_id in flows:
        assert api.stop(flow_id)["state"] == "stopped"
    # The invalid orders are kept with their reasons, in a file the stop published (an idle
    # source holds checkpoints up: see test_checkpoints.py).
    bad = jsonl_rows(rejected)
    assert sorted(r["order_id"] for r in bad) == [51, 52]
    assert all(r["errors"] for r in bad)
