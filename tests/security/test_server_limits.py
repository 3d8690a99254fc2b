"""`dataflow serve` bounds what a client can make it hold: huge headers are refused, slow
clients are dropped, and the server keeps answering everyone else."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.server import ServerProcess

HEADER_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = ServerProcess(
        tmp_path_factory.mktemp("limits") / "data",
        env={"DATAFLOW_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT)},
    )
    yield proc.start()
    proc.stop()


def still_answers(server: ServerProcess) -> None:
    with server.client(timeout=10) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/api/v1/flows").status_code == 200


def test_a_100_kb_header_is_refused_and_the_server_keeps_answering(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        reply = client.get("/api/v1/flows", headers={"X-Padding": "x" * 100_000})
    assert reply.status_code in (400, 431), reply.text
    if reply.status_code == 431:  # whole headers reach the app, which names the limit
        assert reply.headers["content-type"] == "application/problem+json"
        assert "max_header_bytes" in reply.json()["detail"]
    still_answers(server)


def test_a_client_that_trickles_its_headers_is_dropped(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as slow:
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        dropped = False
        # One header byte every 0.2 s: each byte would re-arm a plain keep-alive timer.
        while time.monotonic() - started < HEADER_TIMEOUT * 8:
            try:
                slow.sendall(b"X")
            except OSError:
                dropped = True
                break
            slow.settimeout(0.2)
            try:
                if slow.recv(1024) == b"":
                    dropped = True
                    break
            except TimeoutError:
                continue
            except OSError:
                dropped = True
                break
    assert dropped, "the server waited for the headers past header_timeout_seconds"
    assert time.monotonic() - started >= HEADER_TIMEOUT * 0.8
    still_answers(server)


def test_a_connection_that_never_sends_a_request_is_closed(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=HEADER_TIMEOUT * 8) as idle:
        assert idle.recv(1024) == b""  # closed by the server, not by our timeout
    still_answers(server)


def test_the_deadline_leaves_slow_handlers_and_keep_alive_alone(server):
    """A request whose headers are in runs as long as it needs, and a connection is reused
    for several requests spaced under the deadline."""
    with server.client(timeout=10) as client:
        for _ in range(3):
            assert client.get("/health").status_code == 200
            time.sleep(HEADER_TIMEOUT / 2)
