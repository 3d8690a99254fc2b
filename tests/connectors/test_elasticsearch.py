"""elasticsearch_index: index templates, NDJSON bulk bodies and bulk responses (always run);
indexing into and searching a real Elasticsearch when DATAFLOW_TEST_ELASTICSEARCH=URL."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import uuid
from collections.abc import Iterator

import httpx
import msgspec
import pyarrow as pa
import pytest

from dataflow.processor import SchemaError
from dataflow.testing import run_sink
from dataflow_processors.elasticsearch_index import (
    ElasticsearchIndex,
    bulk_body,
    bulk_lines,
    index_names,
    index_template,
    parse_bulk_response,
)
from tests.kafka_broker import free_port

SERVER = os.environ.get("DATAFLOW_TEST_ELASTICSEARCH", "")
needs_server = pytest.mark.skipif(
    not SERVER, reason="set DATAFLOW_TEST_ELASTICSEARCH=http://host:9200 to run against a server"
)
PARIS = dt.timezone(dt.timedelta(hours=1))
ORDERS = pa.RecordBatch.from_pylist(
    [
        {
            "order_id": 1,
            "country": "FR",
            "at": dt.datetime(2024, 1, 31, 23, 30, tzinfo=dt.UTC),
            "amount": 250.0,
            "note": 'says "hi"\nbye',
        },
        {
            "order_id": 2,
            "country": "US",
            "at": dt.datetime(2024, 2, 1, 0, 15, 30, 500000, tzinfo=dt.UTC),
            "amount": None,
            "note": "é",
        },
    ]
)


def config(**fields):
    return ElasticsearchIndex.parse_config({"urls": ["http://127.0.0.1:9200"], **fields})


# -- index name templates ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("template", "parts"),
    [
        ("orders", [("text", "orders")]),
        ("orders-{country}", [("text", "orders-"), ("column", "country")]),
        ("logs-%Y.%m.%d", [("time", "logs-%Y.%m.%d")]),
        (
            "{service}-{env}-%Y.%m",
            [("column", "service"), ("text", "-"), ("column", "env"), ("time", "-%Y.%m")],
        ),
    ],
)
def test_index_template_parts(template, parts):
    assert index_template(template) == parts


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"index": "logs-%Y"}, "%-codes need a timestamp_column"),
        ({"index": "orders-{}"}, "empty {} placeholder"),
        ({"index": "orders-{country"}, "unbalanced brace"),
        ({"index": "o", "api_key": "k", "username": "u"}, "either api_key or username"),
        ({"index": "o", "op_type": "update"}, "`$.op_type`"),
        ({"index": "o", "max_records_per_request": 0}, "`$.max_records_per_request`"),
    ],
)
def test_bad_config(fields, message):
    with pytest.raises(msgspec.ValidationError, match=message.replace("$", r"\$")):
        config(**fields)


def test_index_names_from_a_column_and_the_time_in_utc():
    cfg = config(index="Orders-{country}-%Y.%m.%d", timestamp_column="at")
    at = pa.array(
        [dt.datetime(2024, 1, 31, 23, 30, tzinfo=dt.UTC), dt.datetime(2024, 2, 1, 0, 30)],
        pa.timestamp("us", "Europe/Paris"),
    )
    batch = pa.RecordBatch.from_pydict({"country": ["FR", None], "at": at})
    # Names are lowered (Elasticsearch requires it); a null value leaves the row unnamed.
    assert index_names(batch, cfg).to_pylist() == ["orders-fr-2024.01.31", None]


def test_index_names_from_a_date_column_and_a_constant_name():
    batch = pa.RecordBatch.from_pydict({"day": pa.array([dt.date(2024, 5, 9)], pa.date32())})
    cfg = config(index="daily-%Y%m%d", timestamp_column="day")
    assert index_names(batch, cfg).to_pylist() == ["daily-20240509"]
    assert index_names(batch, config(index="Orders")).to_pylist() == ["orders"]


# -- bulk bodies ---------------------------------------------------------------------------
def test_bulk_body_action_and_document_lines():
    cfg = config(index="orders-{country}", id_column="order_id")
    assert bulk_body(ORDERS, cfg).decode().splitlines() == [
        '{"index":{"_index":"orders-fr","_id":"1"}}',
        '{"order_id":1,"country":"FR","at":"2024-01-31T23:30:00.000000Z","amount":250.0,'
        '"note":"says \\"hi\\"\\nbye"}',
        '{"index":{"_index":"orders-us","_id":"2"}}',
        '{"order_id":2,"country":"US","at":"2024-02-01T00:15:30.500000Z","amount":null,"note":"é"}',
    ]


def test_bulk_body_create_without_ids_is_valid_ndjson():
    body = bulk_body(ORDERS, config(index="orders", op_type="create"))
    assert body.endswith(b"\n")
    lines = [json.loads(line) for line in body.splitlines()]
    assert lines[0::2] == [{"create": {"_index": "orders"}}] * 2
    assert [d["order_id"] for d in lines[1::2]] == [1, 2]
    assert lines[3]["at"] == "2024-02-01T00:15:30.500000Z"  # ISO 8601: a date to Elasticsearch


def test_rows_without_index_name_or_id_are_left_out():
    batch = pa.RecordBatch.from_pylist(
        [{"id": "a", "k": "x"}, {"id": None, "k": "y"}, {"id": "c", "k": None}]
    )
    cfg = config(index="t-{k}", id_column="id")
    assert bulk_lines(batch, cfg).is_null().to_pylist() == [False, True, True]
    assert bulk_body(batch, cfg) == b'{"index":{"_index":"t-x","_id":"a"}}\n{"id":"a","k":"x"}\n'
    assert bulk_body(batch.slice(0, 0), cfg) == b""


def test_naive_timestamps_have_no_zone():
    batch = pa.RecordBatch.from_pydict(
        {"at": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5)], pa.timestamp("s"))}
    )
    assert bulk_body(batch, config(index="t")).splitlines()[1] == b'{"at":"2024-01-02T03:04:05"}'


# -- bulk responses ------------------------------------------------------------------------
# The documented shape of a bulk response with errors (Elasticsearch 8 bulk API reference),
# one item per kind of outcome.
RESPONSE = {
    "took": 486,
    "errors": True,
    "items": [
        {
            "index": {
                "_index": "orders-fr",
                "_id": "1",
                "_version": 1,
                "result": "created",
                "_shards": {"total": 2, "successful": 1, "failed": 0},
                "_seq_no": 0,
                "_primary_term": 1,
                "status": 201,
            }
        },
        {
            "index": {
                "_index": "orders-fr",
                "_id": "2",
                "status": 400,
                "error": {
                    "type": "document_parsing_exception",
                    "reason": "[1:26] failed to parse field [amount] of type [long] in document"
                    " with id '2'. Preview of field's value: 'abc'",
                    "caused_by": {
                        "type": "illegal_argument_exception",
                        "reason": 'For input string: "abc"',
                    },
                },
            }
        },
        {
            "index": {
                "_index": "orders-fr",
                "_id": "3",
                "status": 429,
                "error": {
                    "type": "es_rejected_execution_exception",
                    "reason": "rejected execution of coordinating operation"
                    " [coordinating_and_primary_bytes=104759862, replica_bytes=0]",
                },
            }
        },
        {
            "create": {
                "_index": "orders-us",
                "_id": "4",
                "status": 409,
                "error": {
                    "type": "version_conflict_engine_exception",
                    "reason": "[4]: version conflict, document already exists"
                    " (current version [1])",
                    "index_uuid": "aAsFqTI0Tc2W0LCWgPNrOA",
                    "shard": "0",
                    "index": "orders-us",
                },
            }
        },
        {
            "index": {
                "_index": "orders-us",
                "_id": "5",
                "status": 503,
                "error": {
                    "type": "unavailable_shards_exception",
                    "reason": "[orders-us][0] primary shard is not active Timeout: [1m]",
                },
            }
        },
    ],
}


def test_parse_bulk_response_splits_retry_from_rejected():
    retry, failed = parse_bulk_response(RESPONSE)
    assert retry == [2, 4]
    assert failed == [
        (
            1,
            "400 document_parsing_exception: [1:26] failed to parse field [amount] of type"
            " [long] in document with id '2'. Preview of field's value: 'abc'"
            ' (caused by illegal_argument_exception: For input string: "abc")',
        ),
        (
            3,
            "409 version_conflict_engine_exception: [4]: version conflict, document already"
            " exists (current version [1])",
        ),
    ]


def test_parse_bulk_response_filtered_and_without_errors():
    # With filter_path, a successful item keeps only its status.
    filtered = {"errors": True, "items": [{"index": {"status": 201}}, RESPONSE["items"][2]]}
    assert parse_bulk_response(filtered) == ([1], [])
    assert parse_bulk_response({"errors": False, "items": [{"index": {"status": 201}}]}) == (
        [],
        [],
    )


# -- the processor -------------------------------------------------------------------------
def test_output_schema_checks_the_columns():
    schema = ORDERS.schema
    sink = ElasticsearchIndex(config(index="o-{region}"))
    with pytest.raises(SchemaError, match='column "region" does not exist') as err:
        sink.output_schema({"in": schema})
    assert err.value.field == "index"
    sink = ElasticsearchIndex(config(index="o-%Y", timestamp_column="note"))
    with pytest.raises(SchemaError, match="not a timestamp or date"):
        sink.output_schema({"in": schema})
    sink = ElasticsearchIndex(config(index="o", id_column="order_id", on_error="route"))
    assert sink.output_schema({"in": schema}) == {
        "failure": schema.append(pa.field("error", pa.string()))
    }


async def test_rows_without_index_name_fail_before_any_request():
    batch = pa.RecordBatch.from_pylist([{"id": 1, "k": None}, {"id": 2, "k": None}])
    sink = ElasticsearchIndex(config(index="t-{k}", on_error="route"))  # never opened
    out = await sink.write_async(batch)
    assert out["failure"].to_pylist() == [
        {"id": 1, "k": None, "error": "no index name or id (a null value)"},
        {"id": 2, "k": None, "error": "no index name or id (a null value)"},
    ]
    sink = ElasticsearchIndex(config(index="t-{k}"))
    with pytest.raises(RuntimeError, match="2 of 2 documents not indexed; first \\(row 0\\)"):
        await sink.write_async(batch)


def test_unreachable_cluster_is_retried_on_every_url_then_named(caplog):
    urls = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    cfg = {"urls": urls, "index": "o", "retry_timeout_seconds": 0.3, "retry_backoff_seconds": 0.05}
    with caplog.at_level(logging.WARNING, "dataflow"), pytest.raises(ConnectionError) as err:
        run_sink(ElasticsearchIndex, cfg, ORDERS)
    assert f"Elasticsearch at {urls[0]}, {urls[1]} still unavailable after 0.3 s" in str(err.value)
    tried = {url for url in urls for r in caplog.records if url in r.getMessage()}
    assert tried == set(urls)


# -- against a real Elasticsearch ----------------------------------------------------------
@pytest.fixture
def es() -> Iterator[tuple[httpx.Client, str]]:
    """A client of the server and a fresh index name prefix; its indices deleted afterwards."""
    prefix = f"df-test-{uuid.uuid4().hex[:12]}"
    with httpx.Client(base_url=SERVER, timeout=30) as client:
        try:
            yield client, prefix
        finally:
            # One DELETE per name: wildcard deletes are refused by default (8.x).
            listed = client.get(f"/_cat/indices/{prefix}-*", params={"format": "json"})
            for index in listed.json():
                client.delete(f"/{index['index']}")


def search(client: httpx.Client, prefix: str) -> dict[str, dict[str, dict]]:
    """index -> id -> document, after a refresh."""
    client.post(f"/{prefix}-*/_refresh").raise_for_status()
    hits = client.post(f"/{prefix}-*/_search", json={"size": 1000}).json()["hits"]["hits"]
    out: dict[str, dict[str, dict]] = {}
    for hit in hits:
        out.setdefault(hit["_index"], {})[hit["_id"]] = hit["_source"]
    return out


@needs_server
def test_indexes_every_row_into_its_daily_index(es):
    client, prefix = es
    cfg = {
        "urls": [SERVER],
        "index": prefix + "-{country}-%Y.%m.%d",
        "timestamp_column": "at",
        "id_column": "order_id",
        "max_records_per_request": 1,  # several bulk requests per batch
    }
    assert run_sink(ElasticsearchIndex, cfg, ORDERS) == {}
    sent = [json.loads(line) for line in bulk_body(ORDERS, config(index="x")).splitlines()]
    assert search(client, prefix) == {
        f"{prefix}-fr-2024.01.31": {"1": sent[1]},
        f"{prefix}-us-2024.02.01": {"2": sent[3]},
    }
    mapping = client.get(f"/{prefix}-fr-2024.01.31/_mapping").json()
    (index,) = mapping.values()
    assert index["mappings"]["properties"]["at"]["type"] == "date"


@needs_server
def test_rejected_documents_go_to_failure_with_the_reason(es):
    client, prefix = es
    index = f"{prefix}-orders"
    client.put(
        f"/{index}", json={"mappings": {"properties": {"amount": {"type": "long"}}}}
    ).raise_for_status()
    rows = [{"id": "1", "amount": "12"}, {"id": "2", "amount": "abc"}, {"id": "3", "amount": "7"}]
    cfg = {"urls": [SERVER], "index": index, "id_column": "id", "on_error": "route"}
    out = run_sink(ElasticsearchIndex, cfg, rows)
    assert [r["id"] for r in out["failure"]] == ["2"]
    assert out["failure"][0]["error"].startswith("400 ")
    assert "failed to parse field [amount]" in out["failure"][0]["error"]
    assert sorted(search(client, prefix)[index]) == ["1", "3"]
    # create refuses ids already there; index would replace them.
    out = run_sink(ElasticsearchIndex, {**cfg, "op_type": "create"}, rows[:1])
    assert out["failure"][0]["error"].startswith("409 version_conflict_engine_exception")


@needs_server
def test_without_route_a_rejected_document_fails_the_batch(es):
    client, prefix = es
    index = f"{prefix}-typed"
    client.put(
        f"/{index}", json={"mappings": {"properties": {"a": {"type": "long"}}}}
    ).raise_for_status()
    cfg = {"urls": [SERVER], "index": index}
    with pytest.raises(RuntimeError, match="1 of 2 documents not indexed; first \\(row 1\\): 400"):
        run_sink(ElasticsearchIndex, cfg, [{"a": "1"}, {"a": "x"}])
