"""Runs survive the server: restarted on the next start from their last source offsets."""

from __future__ import annotations

import json
import signal
import time

import httpx
import pytest

from tests.server import ServerProcess


def counting_flow(out_dir) -> dict:
    return {
        "id": "counter",
        "name": "Counter",
        "nodes": [
            {
                "id": "gen",
                "type": "generate",
                "config": {
                    "count": 0,
                    "rate": 4000,
                    "batch_size": 200,
                    "columns": [{"kind": "sequence", "name": "n"}],
                },
            },
            {
                "id": "out",
                "type": "write_file",
                "config": {"directory": str(out_dir), "format": "jsonl", "roll_rows": 2000},
            },
        ],
        "edges": [{"id": "e1", "source": "gen", "target": "out"}],
    }


def produced(server) -> int:
    m = httpx.get(f"{server.url}/api/v1/flows/counter/metrics").json()
    return m["nodes"].get("gen", {}).get("records_out", {}).get("out", 0)


def wait_until(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("not reached in time")


def written_numbers(out_dir) -> list[int]:
    return sorted(
        json.loads(line)["n"]
        for f in out_dir.glob("*.jsonl")
        for line in f.read_text().splitlines()
    )


@pytest.fixture
def server(tmp_path):
    proc = ServerProcess(tmp_path / "data", env={"DATAFLOW_OFFSETS_REPORT_SECONDS": "0.3"})
    yield proc.start()
    proc.stop(signal.SIGKILL)


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_running_flow_is_restarted_after_the_server_restarts(server, tmp_path, how):
    out = tmp_path / "out"
    assert httpx.post(f"{server.url}/api/v1/flows", json=counting_flow(out)).status_code == 201
    run = httpx.post(f"{server.url}/api/v1/flows/counter/start").json()
    wait_until(lambda: produced(server) > 3000)
    time.sleep(0.5)  # at least one checkpoint after that
    server.stop(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)

    server.start()
    status = httpx.get(f"{server.url}/api/v1/flows/counter/run").json()
    assert (status["state"], status["run_id"]) == ("running", run["run_id"])
    types = [e["type"] for e in httpx.get(f"{server.url}/api/v1/flows/counter/events").json()]
    if how == "sigterm":
        assert "RunInterrupted" in types  # the graceful shutdown marked it
    assert types[-1] == "RunRecovered" or "RunRecovered" in types
    wait_until(lambda: produced(server) > 1000)
    assert httpx.post(f"{server.url}/api/v1/flows/counter/stop").json()["state"] == "stopped"

    numbers = written_numbers(out)
    # Nothing accepted is lost: the sequence has no gap across the restart.
    assert set(numbers) == set(range(1, max(numbers) + 1))
    assert max(numbers) > 4000
    if how == "sigterm":
        # A graceful shutdown drains first, so the restart resumes exactly: no duplicates.
        assert len(numbers) == len(set(numbers))
