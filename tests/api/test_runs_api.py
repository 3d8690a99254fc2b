"""Runs through the HTTP API: lifecycle and its 409s, failures, metrics, samples, live view."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.api.conftest import orders_flow


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def endless_flow(rate: int = 2000) -> dict:
    doc = orders_flow(id="endless")
    doc["nodes"][0]["config"].update(count=0, rate=rate)
    return doc


def file_flow(directory: Path) -> dict:
    doc = orders_flow(id="tofile")
    doc["nodes"][2] = {
        "id": "out",
        "type": "write_file",
        "name": "Out",
        "config": {"directory": str(directory), "format": "jsonl"},
        "position": {"x": 400, "y": 0},
    }
    doc["edges"][1]["target"] = "out"
    return doc


def state(client, flow_id: str) -> str:
    return client.get(f"/api/v1/flows/{flow_id}/run").json()["state"]


def test_never_run_flow_is_configured(client):
    client.post("/api/v1/flows", json=orders_flow())
    body = client.get("/api/v1/flows/orders/run").json()
    assert (body["state"], body["flow_version"]) == ("configured", 1)


def test_finite_flow_completes_and_writes_every_matched_record(client, tmp_path):
    out = tmp_path / "out"
    client.post("/api/v1/flows", json=file_flow(out))
    started = client.post("/api/v1/flows/tofile/start")
    assert started.status_code == 200
    assert (started.json()["state"], started.json()["flow_version"]) == ("running", 1)
    wait_for(lambda: state(client, "tofile") == "completed")
    metrics = client.get("/api/v1/flows/tofile/metrics").json()
    assert metrics["nodes"]["gen"]["records_out"] == {"out": 1000}
    matched = metrics["nodes"]["paid"]["records_out"]["matched"]
    assert matched + metrics["nodes"]["paid"]["records_out"]["unmatched"] == 1000
    assert metrics["nodes"]["out"]["records_in"] == {"in": matched}
    rows = [json.loads(line) for f in out.glob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(rows) == matched and all(r["status"] == "paid" for r in rows)
    types = [e["type"] for e in client.get("/api/v1/flows/tofile/events").json()]
    assert types[0] == "FlowCreated"
    assert types[1:3] == ["RunCreated", "RunStarted"] and types[-1] == "RunCompleted"
    assert client.get("/api/v1/flows").json()[0]["state"] == "completed"


def test_pause_resume_stop_and_invalid_transitions(client):
    client.post("/api/v1/flows", json=endless_flow())
    assert client.post("/api/v1/flows/endless/start").json()["state"] == "running"
    again = client.post("/api/v1/flows/endless/start")
    assert again.status_code == 409 and again.json()["state"] == "running"
    assert client.post("/api/v1/flows/endless/resume").status_code == 409
    assert client.post("/api/v1/flows/endless/pause").json()["state"] == "paused"
    time.sleep(0.3)  # let in-flight batches drain
    produced = client.get("/api/v1/flows/endless/metrics").json()["nodes"]["gen"]["records_out"]
    time.sleep(0.5)
    assert (
        client.get("/api/v1/flows/endless/metrics").json()["nodes"]["gen"]["records_out"]
        == produced
    )
    assert client.post("/api/v1/flows/endless/resume").json()["state"] == "running"
    wait_for(
        lambda: (
            client.get("/api/v1/flows/endless/metrics").json()["nodes"]["gen"]["records_out"]["out"]
            > produced["out"]
        )
    )
    assert client.delete("/api/v1/flows/endless").status_code == 409  # running
    stopped = client.post("/api/v1/flows/endless/stop")
    assert stopped.json()["state"] == "stopped"
    late = client.post("/api/v1/flows/endless/resume")
    assert late.status_code == 409
    assert late.json()["state"] == "stopped"
    assert "stopped" in late.json()["detail"]
    types = [
        e["type"]
        for e in client.get("/api/v1/flows/endless/events").json()
        if e["type"].startswith("Run")
    ]
    assert types == ["RunCreated", "RunStarted", "RunPaused", "RunResumed", "RunStopped"]


def test_force_stop(client):
    client.post("/api/v1/flows", json=endless_flow())
    client.post("/api/v1/flows/endless/start")
    body = client.post("/api/v1/flows/endless/stop", params={"force": "true"}).json()
    assert body["state"] == "stopped"


def test_restart_after_stop_is_a_new_run_of_the_current_version(client):
    client.post("/api/v1/flows", json=endless_flow())
    first = client.post("/api/v1/flows/endless/start").json()
    client.post("/api/v1/flows/endless/stop")
    doc = client.get("/api/v1/flows/endless").json()["flow"]
    doc["name"] = "Endless v2"
    client.put("/api/v1/flows/endless", json={"flow": doc, "expected_version": 1})
    second = client.post("/api/v1/flows/endless/start").json()
    assert second["run_id"] != first["run_id"]
    assert second["flow_version"] == 2
    client.post("/api/v1/flows/endless/stop", params={"force": "true"})


def test_runtime_error_fails_the_run_naming_the_node(client):
    doc = orders_flow(id="broken")
    doc["nodes"][1]["config"]["condition"] = "CAST(status AS INTEGER) > 1"
    client.post("/api/v1/flows", json=doc)
    client.post("/api/v1/flows/broken/start")
    wait_for(lambda: state(client, "broken") == "failed")
    run = client.get("/api/v1/flows/broken/run").json()
    assert run["error_node"] == "paid"
    assert "Conversion Error" in run["error"] or "convert" in run["error"].lower()
    health = client.get("/api/v1/flows/broken/health").json()
    assert (health["state"], health["healthy"]) == ("failed", False)


def test_starting_an_invalid_flow_is_422_with_the_errors(client):
    client.post("/api/v1/flows", json=orders_flow(edges=[]))
    response = client.post("/api/v1/flows/orders/start")
    assert response.status_code == 422
    assert {e["code"] for e in response.json()["errors"]} == {"input_not_connected"}
    assert state(client, "orders") == "configured"


def test_sample_shows_recent_records_filtered_by_sql(client):
    client.post("/api/v1/flows", json=endless_flow())
    client.post("/api/v1/flows/endless/start")
    try:
        wait_for(lambda: client.get("/api/v1/flows/endless/edges/e2/sample").json()["rows"])
        body = client.get(
            "/api/v1/flows/endless/edges/e1/sample", params={"limit": 5, "where": "status = 'open'"}
        ).json()
        assert [c["name"] for c in body["columns"]] == ["order_id", "amount", "status"]
        assert 0 < len(body["rows"]) <= 5
        assert {r["status"] for r in body["rows"]} == {"open"}
        bad = client.get("/api/v1/flows/endless/edges/e1/sample", params={"where": "nope > 1"})
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["path"] == "where"
        assert client.get("/api/v1/flows/endless/edges/zz/sample").status_code == 404
    finally:
        client.post("/api/v1/flows/endless/stop", params={"force": "true"})


def test_websocket_pushes_state_and_metrics(client):
    client.post("/api/v1/flows", json=endless_flow())
    with client.websocket_connect("/api/v1/ws/flows/endless") as ws:
        client.post("/api/v1/flows/endless/start")
        states: list[str] = []
        metrics = None
        while metrics is None or "running" not in states:
            message = ws.receive_json(timeout=10)
            if message["type"] == "state":
                states.append(message["run"]["state"])
            else:
                metrics = message["metrics"]
        assert states[:2] == ["configured", "running"]
        assert "gen" in metrics["nodes"]
        client.post("/api/v1/flows/endless/stop")
        while True:
            message = ws.receive_json(timeout=10)
            if message["type"] == "state" and message["run"]["state"] == "stopped":
                break


def test_prometheus_exposition(client):
    client.post("/api/v1/flows", json=endless_flow())
    client.post("/api/v1/flows/endless/start")
    try:
        wait_for(lambda: "dataflow_node_records_out_total{" in client.get("/metrics").text)
        text = client.get("/metrics").text
        assert 'dataflow_node_records_out_total{flow="endless",node="gen",port="out"}' in text
        assert 'dataflow_edge_fill_ratio{edge="e1",flow="endless"}' in text
    finally:
        client.post("/api/v1/flows/endless/stop", params={"force": "true"})


@pytest.mark.parametrize("action", ["start", "pause", "resume", "stop"])
def test_run_actions_on_unknown_flow_are_404_or_409(client, action):
    response = client.post(f"/api/v1/flows/nope/{action}")
    assert response.status_code in (404, 409)
    assert response.json()["status"] == response.status_code
