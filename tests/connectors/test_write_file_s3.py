"""write_file to S3 through pyarrow.fs, against moto's S3-compatible server on loopback."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import boto3
import msgspec
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

from dataflow.processor import Context
from dataflow.testing import run_sink
from dataflow_processors.write_file import WriteFile
from tests.kafka_broker import free_port

ROWS = [{"id": i, "name": f"n{i}", "score": i / 2} for i in range(25)]
KEYS = {"s3_access_key": "test-key", "s3_secret_key": "test-secret", "s3_region": "us-east-1"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """host:port of a moto S3 server, for this module."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(endpoint: str) -> str:
    name = f"df-test-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=f"http://{endpoint}",
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
        region_name="us-east-1",
    ).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3(endpoint: str) -> pafs.S3FileSystem:
    """A client of the same server, to look at what the sink wrote."""
    return pafs.S3FileSystem(
        access_key="test-key",
        secret_key="test-secret",
        region="us-east-1",
        endpoint_override=endpoint,
        scheme="http",
    )


def config(endpoint: str, directory: str, **extra) -> dict:
    return {
        "directory": directory,
        "s3_endpoint_override": endpoint,
        "s3_scheme": "http",
        **KEYS,
        **extra,
    }


def listing(fs: pafs.FileSystem, path: str) -> list[str]:
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return sorted(i.base_name for i in infos)


CONTEXT = Context(node_id="test", run_id="run1")


def test_parquet_files_appear_in_the_bucket_with_the_rows(endpoint, bucket, s3):
    cfg = config(endpoint, f"s3://{bucket}/out/orders", format="parquet", roll_rows=10)
    assert run_sink(WriteFile, cfg, ROWS, batch_size=7, context=CONTEXT) == {}
    files = listing(s3, f"{bucket}/out/orders")
    assert files == [
        "part-run1-00000.parquet",
        "part-run1-00001.parquet",
        "part-run1-00002.parquet",
    ]
    tables = [pq.read_table(f"{bucket}/out/orders/{f}", filesystem=s3) for f in files]
    assert [t.num_rows for t in tables] == [10, 10, 5]
    assert pa.concat_tables(tables).to_pylist() == ROWS


async def test_object_appears_only_when_complete(endpoint, bucket, s3):
    sink = WriteFile(WriteFile.parse_config(config(endpoint, f"s3://{bucket}/out")), CONTEXT)
    await sink.open()
    await sink.write_async(pa.RecordBatch.from_pylist(ROWS[:10]))
    await sink.write_async(pa.RecordBatch.from_pylist(ROWS[10:]))
    # The upload is still open: the store shows nothing, not even an empty object.
    assert await asyncio.to_thread(listing, s3, f"{bucket}/out") == []
    await sink.flush_async()
    assert await asyncio.to_thread(listing, s3, f"{bucket}/out") == ["part-run1-00000.jsonl"]
    await sink.close()
    with s3.open_input_stream(f"{bucket}/out/part-run1-00000.jsonl") as f:
        assert [json.loads(line) for line in f.read().splitlines()] == ROWS


def test_names_are_never_reused(endpoint, bucket, s3):
    cfg = config(endpoint, f"s3://{bucket}/exports/", format="csv")
    run_sink(WriteFile, cfg, ROWS[:5], context=CONTEXT)
    run_sink(WriteFile, cfg, ROWS[5:], context=CONTEXT)  # same run id: the next free name
    files = listing(s3, f"{bucket}/exports")
    assert files == ["part-run1-00000.csv", "part-run1-00001.csv"]
    with s3.open_input_stream(f"{bucket}/exports/{files[1]}") as f:
        assert pcsv.read_csv(f).to_pylist() == ROWS[5:]


def test_credentials_from_the_environment(endpoint, bucket, s3, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    cfg = {
        "directory": f"s3://{bucket}/env",
        "s3_endpoint_override": endpoint,
        "s3_scheme": "http",
        "s3_region": "us-east-1",
    }
    run_sink(WriteFile, cfg, ROWS, context=CONTEXT)
    assert listing(s3, f"{bucket}/env") == ["part-run1-00000.jsonl"]


def test_missing_bucket_fails_at_the_start(endpoint):
    cfg = config(endpoint, "s3://no-such-bucket/out")
    with pytest.raises(FileNotFoundError, match="bucket 'no-such-bucket' does not exist"):
        run_sink(WriteFile, cfg, ROWS, context=CONTEXT)


def test_access_key_needs_its_secret():
    with pytest.raises(msgspec.ValidationError, match="s3_access_key and s3_secret_key"):
        WriteFile.parse_config({"directory": "s3://b/o", "s3_access_key": "AKIA"})


def test_a_file_uri_is_a_local_directory(tmp_path):
    cfg = {"directory": (tmp_path / "out").as_uri(), "format": "csv"}
    run_sink(WriteFile, cfg, ROWS, context=CONTEXT)  # renamed into place, as for a local path
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["part-run1-00000.csv"]
    assert pcsv.read_csv(tmp_path / "out" / "part-run1-00000.csv").to_pylist() == ROWS
