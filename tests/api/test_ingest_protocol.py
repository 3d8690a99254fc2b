"""The ingest endpoint serves any source implementing dataflow.processor.Ingest, not only
http_listen: a plugin's own source here, with its own body format and limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import pyarrow as pa
import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.processor import (
    BackPressured,
    Ingest,
    InvalidRecords,
    ProcessorConfig,
    ProcessorSpec,
    Source,
    TooManyRecords,
    ui,
)
from dataflow.testing import registry_with


class LinePushConfig(ProcessorConfig, kw_only=True):
    """Each line of a text body is a record with one `line` column."""

    max_lines: Annotated[int, ui("Lines per request", ge=1)] = 3
    busy: Annotated[bool, ui("Busy", "Answer every request with back-pressure.")] = False


class LinePush(Source[LinePushConfig]):
    """A third-party source taking plain text lines pushed to the server."""

    spec = ProcessorSpec(
        name="line_push",
        category="source",
        status="beta",
        summary="Receive text lines POSTed to the ingest endpoint.",
        outputs=("out",),
        examples=[{}],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.queue: asyncio.Queue[tuple[pa.RecordBatch, asyncio.Future[None]]] = asyncio.Queue()

    async def ingest(self, body: bytes, content_type: str) -> int:
        lines = body.decode().splitlines()
        for i, line in enumerate(lines, 1):
            if not line.isprintable():
                raise InvalidRecords("a control character", line=i)
        if len(lines) > self.config.max_lines:
            raise TooManyRecords(f"{len(lines)} lines; at most {self.config.max_lines}")
        if self.config.busy:
            raise BackPressured(retry_after_seconds=7)
        taken = asyncio.get_running_loop().create_future()
        await self.queue.put((pa.RecordBatch.from_pydict({"line": lines}), taken))
        await taken  # accepted once the run has the batch
        return len(lines)

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        while True:
            try:
                batch, taken = await asyncio.wait_for(self.queue.get(), 0.2)
            except TimeoutError:
                yield pa.RecordBatch.from_pylist([])  # lets the engine stop the run
                continue
            taken.set_result(None)
            yield batch


def flow(flow_id: str, **config) -> dict:
    return {
        "id": flow_id,
        "name": flow_id,
        "nodes": [
            {"id": "in", "type": "line_push", "config": config},
            {"id": "out", "type": "list_sink"},
        ],
        "edges": [{"id": "e", "source": "in", "target": "out"}],
    }


@pytest.fixture
def client(settings):
    with TestClient(app=create_app(settings, registry_with(LinePush))) as client:
        yield client


def start(client: TestClient, doc: dict) -> None:
    assert client.post("/api/v1/flows", json=doc).status_code == 201
    assert client.post(f"/api/v1/flows/{doc['id']}/start").json()["state"] == "running"


def test_the_protocol_is_structural():
    assert issubclass(LinePush, Ingest)
    assert not issubclass(Source, Ingest)


def test_a_plugin_source_takes_records_from_the_ingest_endpoint(client):
    start(client, flow("lines"))
    answer = client.post("/api/v1/ingest/lines/in", content=b"one\ntwo")
    assert (answer.status_code, answer.json()) == (202, {"accepted": 2})
    assert client.post("/api/v1/flows/lines/stop").json()["state"] == "stopped"
    engine = client.app.state.services.runs.engine("lines")
    assert engine.processor("out").rows == [{"line": "one"}, {"line": "two"}]


def test_the_plugin_errors_map_to_the_endpoint_status_codes(client):
    start(client, flow("errors"))
    bad = client.post("/api/v1/ingest/errors/in", content=b"ok\nb\x07d")
    assert bad.status_code == 400
    assert bad.json()["errors"] == [
        {"code": "invalid_json", "message": "a control character", "path": "line 2", "line": 2}
    ]
    too_many = client.post("/api/v1/ingest/errors/in", content=b"a\nb\nc\nd")
    assert too_many.status_code == 413 and "at most 3" in too_many.json()["detail"]
    not_ingest = client.post("/api/v1/ingest/errors/out", content=b"a")
    assert not_ingest.status_code == 404
    assert "has no line_push node 'out'" in not_ingest.json()["detail"]


def test_back_pressure_from_a_plugin_says_when_to_retry(client):
    start(client, flow("busy", busy=True))
    answer = client.post("/api/v1/ingest/busy/in", content=b"a")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert "send again after 7 s" in answer.json()["detail"]
