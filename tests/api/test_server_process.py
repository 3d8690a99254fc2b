"""The real server process: starts with examples, persists flows across restarts."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import orders_flow
from tests.server import ROOT, ServerProcess


@pytest.fixture
def server(tmp_path):
    proc = ServerProcess(tmp_path / "data", args=["--flowfiles", str(ROOT / "flowfiles")])
    yield proc.start()
    proc.stop()


def test_server_loads_examples_and_keeps_flows_across_restarts(server):
    examples = httpx.get(f"{server.url}/api/v1/flows", headers=server.headers).json()
    assert len(examples) >= 3  # flowfiles/ imported on first start
    created = httpx.post(
        f"{server.url}/api/v1/flows", headers=server.headers, json=orders_flow()
    ).json()
    assert created["version"] == 1
    # SIGTERM: uvicorn shuts down gracefully, then re-raises the signal (exit -15).
    assert server.stop() in (0, -15)
    assert "Traceback" not in server.log_text()
    server.start()
    flows = {
        f["id"] for f in httpx.get(f"{server.url}/api/v1/flows", headers=server.headers).json()
    }
    assert "orders" in flows
    assert len(flows) == len(examples) + 1  # examples are not imported twice
    assert (server.data_dir / "journal.db").exists()
