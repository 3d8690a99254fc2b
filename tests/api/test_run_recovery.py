"""Runs survive the server: restarted on the next start from their last checkpoint (source
offsets and node state)."""

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


def windows_flow(out_dir, count: int) -> dict:
    """Tumbling windows of 100 over the sequence 1..count (as event time in seconds)."""
    return {
        "id": "windows",
        "name": "Windows",
        "nodes": [
            {
                "id": "gen",
                "type": "generate",
                "config": {
                    "count": count,
                    "rate": 2000,
                    "batch_size": 50,
                    "columns": [{"kind": "sequence", "name": "n"}],
                },
            },
            {
                "id": "agg",
                "type": "aggregate",
                "config": {
                    "aggregations": [{"function": "count", "as": "rows"}],
                    "mode": {"kind": "tumbling", "time_column": "n", "window_seconds": 100},
                },
            },
            {"id": "out", "type": "write_file", "config": {"directory": str(out_dir)}},
        ],
        "edges": [
            {"id": "e1", "source": "gen", "target": "agg"},
            {"id": "e2", "source": "agg", "target": "out"},
        ],
    }


def produced(server, flow_id: str = "counter") -> int:
    m = httpx.get(f"{server.url}/api/v1/flows/{flow_id}/metrics", headers=server.headers).json()
    return m["nodes"].get("gen", {}).get("records_out", {}).get("out", 0)


def run_state(server, flow_id: str) -> str:
    return httpx.get(f"{server.url}/api/v1/flows/{flow_id}/run", headers=server.headers).json()[
        "state"
    ]


def wait_until(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("not reached in time")


def written(out_dir) -> list[dict]:
    return [
        json.loads(line) for f in out_dir.glob("*.jsonl") for line in f.read_text().splitlines()
    ]


def written_numbers(out_dir) -> list[int]:
    return sorted(row["n"] for row in written(out_dir))


@pytest.fixture
def server(tmp_path):
    proc = ServerProcess(tmp_path / "data", env={"DATAFLOW_OFFSETS_REPORT_SECONDS": "0.3"})
    yield proc.start()
    proc.stop(signal.SIGKILL)


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_running_flow_is_restarted_after_the_server_restarts(server, tmp_path, how):
    out = tmp_path / "out"
    assert (
        httpx.post(
            f"{server.url}/api/v1/flows", headers=server.headers, json=counting_flow(out)
        ).status_code
        == 201
    )
    run = httpx.post(f"{server.url}/api/v1/flows/counter/start", headers=server.headers).json()
    wait_until(lambda: produced(server) > 3000)
    time.sleep(0.5)  # at least one checkpoint after that
    server.stop(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)

    server.start()
    status = httpx.get(f"{server.url}/api/v1/flows/counter/run", headers=server.headers).json()
    assert (status["state"], status["run_id"]) == ("running", run["run_id"])
    types = [
        e["type"]
        for e in httpx.get(
            f"{server.url}/api/v1/flows/counter/events", headers=server.headers
        ).json()
    ]
    if how == "sigterm":
        assert "RunInterrupted" in types  # the graceful shutdown marked it
    assert types[-1] == "RunRecovered" or "RunRecovered" in types
    wait_until(lambda: produced(server) > 1000)
    assert (
        httpx.post(f"{server.url}/api/v1/flows/counter/stop", headers=server.headers).json()[
            "state"
        ]
        == "stopped"
    )

    numbers = written_numbers(out)
    # Nothing accepted is lost: the sequence has no gap across the restart.
    assert set(numbers) == set(range(1, max(numbers) + 1))
    assert max(numbers) > 4000
    if how == "sigterm":
        # A graceful shutdown drains first, so the restart resumes exactly: no duplicates.
        assert len(numbers) == len(set(numbers))


def test_a_windowed_aggregate_gives_the_same_windows_across_a_sigterm_restart(server, tmp_path):
    out = tmp_path / "windows"
    count = 3000
    doc = windows_flow(out, count)
    assert (
        httpx.post(f"{server.url}/api/v1/flows", headers=server.headers, json=doc).status_code
        == 201
    )
    httpx.post(
        f"{server.url}/api/v1/flows/windows/start", headers=server.headers
    ).raise_for_status()
    wait_until(lambda: produced(server, "windows") > 1000)
    server.stop(signal.SIGTERM)
    # The shutdown emitted no open window early: only complete windows (the first holds
    # 1..99) that the watermark closed.
    before = sorted(written(out), key=lambda row: row["window_start"])
    assert [row["rows"] for row in before] == [99] + [100] * (len(before) - 1)

    server.start()
    wait_until(lambda: run_state(server, "windows") == "completed", timeout=30)
    rows = sorted(written(out), key=lambda row: row["window_start"])
    # Exactly the windows of an uninterrupted run: 1..99, then 100 per window, then 3000.
    assert [row["rows"] for row in rows] == [99] + [100] * (count // 100 - 1) + [1]
    assert len({row["window_start"] for row in rows}) == len(rows)
