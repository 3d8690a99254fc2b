"""Validation and edge samples never stall the server: they run off the event loop, a few at
a time, and end at a time limit with a clear answer."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Mapping

import pyarrow as pa
import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.processor import ProcessorSpec, Registry, Source
from dataflow.settings import Settings
from dataflow.testing import ListSink, ListSource, ListSourceConfig
from dataflow_processors.filter import Filter
from tests.auth import auth_settings, sign_in

RELEASE = threading.Event()


class Slow(Source[ListSourceConfig]):
    """A plugin whose schema inference hangs (a slow network share, say)."""

    spec = ProcessorSpec(name="slow", category="source", summary="s", outputs=("out",))

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema]:
        RELEASE.wait(20)
        return {"out": pa.schema([("n", pa.int64())])}

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:  # pragma: no cover - not run
        yield pa.record_batch([])


@pytest.fixture
def client(tmp_path):
    settings = Settings(
        data_dir=str(tmp_path / "data"),
        validation_timeout_seconds=0.5,
        sample_timeout_seconds=0.5,
        **auth_settings(),
    )
    RELEASE.clear()
    with TestClient(
        app=create_app(settings, Registry([Slow, ListSource, ListSink, Filter]))
    ) as client:
        sign_in(client)
        yield client
    RELEASE.set()


def slow_flow() -> dict:
    return {
        "id": "slow",
        "name": "slow",
        "nodes": [{"id": "s", "type": "slow"}, {"id": "out", "type": "list_sink"}],
        "edges": [{"id": "e", "source": "s", "target": "out"}],
    }


def test_a_validation_that_hangs_answers_503_and_the_server_stays_responsive(client):
    answers: dict[str, float] = {}

    def other_requests() -> None:
        time.sleep(0.1)
        started = time.monotonic()
        assert client.get("/api/v1/flows").status_code == 200
        answers["list"] = time.monotonic() - started

    side = threading.Thread(target=other_requests)
    side.start()
    started = time.monotonic()
    reply = client.post("/api/v1/flows/validate", json=slow_flow())
    took = time.monotonic() - started
    side.join()
    assert reply.status_code == 503
    assert "validation took longer than 0.5 s" in reply.json()["detail"]
    assert took < 3
    assert answers["list"] < 0.5  # answered while the validation hung
    assert client.post("/api/v1/flows", json=slow_flow()).status_code == 503
    assert client.get("/api/v1/flows").json() == []  # nothing was stored


def test_a_sample_query_that_runs_too_long_is_interrupted(client):
    doc = {
        "id": "s",
        "name": "s",
        "nodes": [
            {
                "id": "src",
                "type": "list_source",
                "config": {
                    "rows": [{"n": i} for i in range(300)],
                    "repeat": 0,
                    "delay_seconds": 0.05,
                },
            },
            {"id": "out", "type": "list_sink"},
        ],
        "edges": [{"id": "e", "source": "src", "target": "out"}],
    }
    created = client.post("/api/v1/flows", json=doc)
    assert created.status_code == 201, created.text
    assert client.post("/api/v1/flows/s/start").status_code == 200
    deadline = time.monotonic() + 10
    while not client.get("/api/v1/flows/s/edges/e/sample").json()["rows"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # 200^4 combinations, none of which the optimizer can count without looking at each.
    heavy = (
        "(SELECT count(*) FROM sample a, sample b, sample c, sample d "
        "WHERE a.n * 7 + b.n * 5 + c.n * 3 + d.n = -1) > 0"
    )
    started = time.monotonic()
    reply = client.get("/api/v1/flows/s/edges/e/sample", params={"where": heavy})
    assert reply.status_code == 400
    assert "ran longer than 0.5 s" in reply.json()["detail"]
    assert time.monotonic() - started < 5
    client.post("/api/v1/flows/s/stop?force=true")
