"""The HTTP family against real servers started here: ingest through the real app (uvicorn),
polling and posting against a small HTTP/1.1 server, a WebSocket feed from websockets.serve."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import uvicorn
import websockets

from dataflow.api import create_app
from dataflow.runtime import FlowRun
from dataflow.settings import Settings
from dataflow.testing import as_flow, registry_with, run_flow, run_sink
from dataflow_processors.http_listen import HttpListen
from dataflow_processors.http_poll import HttpPoll
from dataflow_processors.http_post import HttpPost
from dataflow_processors.websocket_subscribe import WebsocketSubscribe
from tests.auth import auth_settings, sign_in, user_with_role
from tests.server import free_port


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


# -- a small HTTP/1.1 server in the test's event loop -----------------------------------------
@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]


@dataclass
class MiniHttp:
    """Answers each request with `handle(request)`: (status, body[, headers]); a dict or list
    body is sent as JSON. Every request is kept in `seen`."""

    handle: Callable[[Seen], Reply]
    port: int = field(default_factory=free_port)
    seen: list[Seen] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> MiniHttp:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                method, target, _ = line.decode().split(" ", 2)
                headers = {}
                while (header := await reader.readline()).strip():
                    name, value = header.decode().split(":", 1)
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                url = urlsplit(target)
                request = Seen(method, url.path, dict(parse_qsl(url.query)), headers, body)
                self.seen.append(request)
                status, payload, *extra = self.handle(request)
                if not isinstance(payload, bytes | str):
                    payload = json.dumps(payload)
                data = payload.encode() if isinstance(payload, str) else payload
                head = [
                    f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
                    f"Content-Length: {len(data)}",
                ]
                head += [f"{k}: {v}" for k, v in (extra[0] if extra else {}).items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def mini_http():
    servers: list[MiniHttp] = []

    async def make(handle: Callable[[Seen], Reply], start: bool = True) -> MiniHttp:
        server = MiniHttp(handle)
        servers.append(server)
        return await server.start() if start else server

    yield make
    for server in servers:
        await server.stop()


def flow_of(source: dict[str, Any], sink: dict[str, Any] | None = None, **failure) -> dict:
    nodes = [source, sink or {"id": "out", "type": "list_sink"}]
    edges = [{"id": "e1", "source": source["id"], "target": nodes[1]["id"]}]
    if failure:
        nodes.append({"id": "bad", "type": "list_sink"})
        edges.append(
            {"id": "e2", "source": source["id"], "source_port": "failure", "target": "bad"}
        )
    return {"id": "f", "nodes": nodes, "edges": edges}


# -- http_listen through the real app -------------------------------------------------------
@dataclass
class Server:
    url: str
    app: Any
    #: Signed in as admin; producers without an account use plain httpx calls.
    http: httpx.Client

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.http.headers)

    def sink_rows(self, flow_id: str, node_id: str = "out") -> list[dict[str, Any]]:
        engine = self.app.state.services.runs.engine(flow_id)
        return engine.processor(node_id).rows


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = Settings(
        data_dir=str(tmp_path_factory.mktemp("ingest") / "data"),
        metrics_push_seconds=0.2,
        offsets_report_seconds=0.2,
        **auth_settings(),
    )
    app = create_app(settings, registry_with(HttpListen))
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=30) as http:
        sign_in(http)
        yield Server(url, app, http)
    uv.should_exit = True
    thread.join(15)


def listen_flow(flow_id: str, capacity: int = 64, delay: float = 0.0, **config) -> dict:
    return {
        "id": flow_id,
        "name": flow_id,
        "nodes": [
            {"id": "in", "type": "http_listen", "config": config},
            {"id": "out", "type": "list_sink", "config": {"delay_seconds": delay}},
        ],
        "edges": [
            {"id": "e1", "source": "in", "target": "out", "settings": {"max_batches": capacity}}
        ],
    }


def create_and_start(server: Server, doc: dict) -> None:
    assert server.http.post(f"{server.url}/api/v1/flows", json=doc).status_code == 201
    started = server.http.post(f"{server.url}/api/v1/flows/{doc['id']}/start")
    assert started.json()["state"] == "running", started.text


def test_ingest_json_array_and_ndjson_reach_the_flow(server):
    create_and_start(server, listen_flow("plain"))
    ingest = f"{server.url}/api/v1/ingest/plain/in"
    one = server.http.post(ingest, json={"id": 1, "name": "a"})
    assert (one.status_code, one.json()) == (202, {"accepted": 1})
    assert (
        server.http.post(ingest, json=[{"id": 2}, {"id": 3, "name": "c"}]).json()["accepted"] == 2
    )
    ndjson = b'{"id": 4}\n\n{"id": 5, "name": "e"}\n'
    typed = server.http.post(
        ingest, content=ndjson, headers={"Content-Type": "application/x-ndjson"}
    )
    assert typed.json() == {"accepted": 2}
    # Several lines without the NDJSON content type are still one record per line.
    assert server.http.post(ingest, content=b'{"id": 6}\n{"id": 7}').json() == {"accepted": 2}
    pretty = json.dumps({"id": 8, "name": "h"}, indent=2)  # one object over several lines
    assert server.http.post(ingest, content=pretty).json() == {"accepted": 1}
    stopped = server.http.post(f"{server.url}/api/v1/flows/plain/stop")
    assert stopped.json()["state"] == "stopped"
    rows = server.sink_rows("plain")
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert rows[0]["name"] == "a" and rows[4]["name"] == "e" and rows[7]["name"] == "h"


def test_ingest_errors_name_the_problem(server):
    doc = listen_flow("errors", max_records_per_request=3)
    assert server.http.post(f"{server.url}/api/v1/flows", json=doc).status_code == 201
    base = f"{server.url}/api/v1/ingest"
    idle = server.http.post(f"{base}/errors/in", json={"id": 1})
    assert idle.status_code == 503
    assert idle.json()["detail"] == "flow 'errors' is not running (state: configured)"
    assert idle.headers["content-type"] == "application/problem+json"
    assert server.http.post(f"{base}/nope/in", json={}).status_code == 404
    assert server.http.post(f"{base}/errors/nope", json={}).status_code == 404
    not_listen = server.http.post(f"{base}/errors/out", json={})
    assert not_listen.status_code == 404 and "no http_listen node 'out'" in not_listen.text

    server.http.post(f"{server.url}/api/v1/flows/errors/start")
    bad = server.http.post(f"{base}/errors/in", content=b'{"id": 1}\n{"id": 2}\n{"id": 3,}\n')
    assert bad.status_code == 400
    problem = bad.json()
    assert problem["errors"][0]["line"] == 3 and problem["errors"][0]["code"] == "invalid_json"
    assert "line 3" in problem["detail"] and "trailing comma" in problem["detail"]
    clash = server.http.post(f"{base}/errors/in", content=b'{"id": 1}\n{"id": "x"}\n')
    assert clash.status_code == 400 and clash.json()["errors"][0]["line"] == 2
    assert server.http.post(f"{base}/errors/in", content=b"[1, 2]").status_code == 400
    too_many = server.http.post(f"{base}/errors/in", json=[{"id": i} for i in range(4)])
    assert too_many.status_code == 413 and "at most 3" in too_many.json()["detail"]

    server.http.post(f"{server.url}/api/v1/flows/errors/pause")
    paused = server.http.post(f"{base}/errors/in", json={"id": 1})
    assert paused.status_code == 503 and "paused" in paused.json()["detail"]
    server.http.post(f"{server.url}/api/v1/flows/errors/resume")
    assert server.http.post(f"{base}/errors/in", json={"id": 9}).status_code == 202
    server.http.post(f"{server.url}/api/v1/flows/errors/stop")
    gone = server.http.post(f"{base}/errors/in", json={"id": 1})
    assert gone.status_code == 503 and "(state: stopped)" in gone.json()["detail"]
    assert server.sink_rows("errors") == [{"id": 9}]  # nothing of the refused requests


async def test_backpressure_reaches_clients_and_nothing_accepted_is_lost(server):
    # A slow sink behind a one-batch queue: the listener's two slots fill, clients get 429.
    doc = listen_flow("busy", capacity=1, delay=0.03, max_pending_batches=2)
    await asyncio.to_thread(create_and_start, server, doc)
    url = f"{server.url}/api/v1/ingest/busy/in"
    refused: list[str] = []

    async def send(client: httpx.AsyncClient, n: int) -> list[int]:
        ids = [n * 10 + i for i in range(3)]
        while True:
            answer = await client.post(url, json=[{"id": i, "n": n} for i in ids])
            if answer.status_code == 202:
                assert answer.json() == {"accepted": 3}
                return ids
            assert answer.status_code == 429, answer.text
            refused.append(answer.headers["Retry-After"])
            await asyncio.sleep(0.02)  # quicker than Retry-After asks: keeps the test short

    async with httpx.AsyncClient(timeout=30, headers=server.headers) as client:
        sent = await asyncio.gather(*(send(client, n) for n in range(40)))
        assert refused and set(refused) == {"1"}
        await client.post(f"{server.url}/api/v1/flows/busy/stop")
    ids = sorted(r["id"] for r in server.sink_rows("busy"))
    assert ids == sorted(i for batch in sent for i in batch)  # each one exactly once


async def test_a_graceful_stop_delivers_every_accepted_request(server):
    doc = listen_flow("stopping", capacity=1, delay=0.1, max_pending_batches=8)
    await asyncio.to_thread(create_and_start, server, doc)
    url = f"{server.url}/api/v1/ingest/stopping/in"
    async with httpx.AsyncClient(timeout=30, headers=server.headers) as client:

        async def send(n: int) -> tuple[int, int]:
            return n, (await client.post(url, json={"id": n})).status_code

        requests = [asyncio.create_task(send(n)) for n in range(12)]
        await asyncio.sleep(0.3)
        stop = await client.post(f"{server.url}/api/v1/flows/stopping/stop")
        assert stop.json()["state"] == "stopped"
        answers = dict(await asyncio.gather(*requests))
    accepted = sorted(n for n, status in answers.items() if status == 202)
    assert set(answers.values()) <= {202, 429, 503} and accepted
    assert sorted(r["id"] for r in server.sink_rows("stopping")) == accepted


# -- http_poll ------------------------------------------------------------------------------
async def test_poll_follows_next_links_in_the_body_with_a_bearer_token(mini_http):
    pages = {
        "1": {"data": {"items": [{"id": 1}, {"id": 2}]}, "links": {"next": "/items?cursor=2"}},
        "2": {"data": {"items": [{"id": 3}]}, "links": {"next": None}},
    }
    api = await mini_http(lambda r: (200, pages[r.query.get("cursor", "1")]))
    config = {
        "url": f"{api.url}/items",
        "once": True,
        "records_pointer": "/data/items",
        "pagination": {"kind": "next_link", "next_pointer": "/links/next"},
        "auth_token": {"secret": "api-token"},
    }
    result = await run_flow(
        flow_of({"id": "poll", "type": "http_poll", "config": config}),
        registry_with(HttpPoll),
        secrets={"api-token": "s3cret"},
    )
    assert result.state == "completed", result.error
    assert result.outputs["out"] == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert [r.query for r in api.seen] == [{}, {"cursor": "2"}]
    assert {r.headers["authorization"] for r in api.seen} == {"Bearer s3cret"}


async def test_poll_follows_link_headers_and_counts_pages(mini_http):
    def linked(r: Seen) -> Reply:
        page = int(r.query.get("p", 1))
        link = {"Link": f'<{api.url}/feed?p={page + 1}>; rel="next"'} if page < 3 else {}
        return 200, [{"page": page, "k": i} for i in range(2)], link

    def numbered(r: Seen) -> Reply:
        page = int(r.query["page"])
        return 200, {"results": [{"page": page}] if page <= 3 else []}

    api = await mini_http(linked)
    counted = await mini_http(numbered)
    registry = registry_with(HttpPoll)
    link_config = {"url": f"{api.url}/feed", "once": True, "pagination": {"kind": "next_link"}}
    by_link = await run_flow(
        flow_of({"id": "p", "type": "http_poll", "config": link_config}), registry
    )
    assert [r["page"] for r in by_link.outputs["out"]] == [1, 1, 2, 2, 3, 3]
    page_config = {
        "url": f"{counted.url}/list?sort=id",
        "once": True,
        "records_pointer": "/results",
        "pagination": {"kind": "page_param", "first_page": 1},
    }
    by_page = await run_flow(
        flow_of({"id": "p", "type": "http_poll", "config": page_config}), registry
    )
    assert by_page.outputs["out"] == [{"page": 1}, {"page": 2}, {"page": 3}]
    assert [r.query for r in counted.seen] == [{"sort": "id", "page": str(p)} for p in range(1, 5)]


async def test_poll_since_field_asks_only_for_newer_records(mini_http):
    records = [{"id": i, "v": f"r{i}"} for i in range(1, 6)]

    def newer(r: Seen) -> Reply:
        after = int(r.query.get("after", 0))
        return 200, {"items": [x for x in records if x["id"] > after]}

    api = await mini_http(newer)
    config = {
        "url": f"{api.url}/events",
        "records_pointer": "/items",
        "since_field": "id",
        "since_param": "after",
        "once": True,
    }
    flow = flow_of({"id": "poll", "type": "http_poll", "config": config})
    registry = registry_with(HttpPoll)
    first = await run_flow(flow, registry)
    assert [r["id"] for r in first.outputs["out"]] == [1, 2, 3, 4, 5]
    assert first.offsets["poll"] == {"since": 5}
    records.extend({"id": i, "v": f"r{i}"} for i in (6, 7))
    again = await run_flow(flow, registry, offsets=first.offsets)  # a restart resumes
    assert [r["id"] for r in again.outputs["out"]] == [6, 7]
    assert api.seen[-1].query == {"after": "5"}

    # Polling on: each poll sends the newest id of the ones before.
    config |= {"once": False, "interval_seconds": 0.05}
    run = FlowRun.of(
        as_flow(flow_of({"id": "poll", "type": "http_poll", "config": config})), registry
    )
    await run.start()
    polls = len(api.seen)
    await until(lambda: len(api.seen) >= polls + 2)
    records.append({"id": 8, "v": "r8"})
    await until(lambda: api.seen[-1].query == {"after": "8"})
    await run.stop()
    assert [r["id"] for r in run.processor("out").rows] == [1, 2, 3, 4, 5, 6, 7, 8]


async def test_poll_names_the_url_when_the_server_is_down_and_recovers(mini_http):
    failures = iter([(503, "busy", {"Retry-After": "0"})])
    api = await mini_http(lambda r: next(failures, (200, [{"ok": True}])), start=False)
    config = {"url": f"{api.url}/status", "once": True, "retry_backoff_seconds": 0.01}
    registry = registry_with(HttpPoll)
    down = await run_flow(
        flow_of({"id": "poll", "type": "http_poll", "config": config | {"max_retries": 1}}),
        registry,
    )
    assert down.state == "failed" and down.error_node == "poll"
    assert f"GET {api.url}/status: ConnectError" in down.error
    assert "(after 1 retries)" in down.error

    # The server comes up while the node retries, and answers 503 once: no error shows.
    patient = config | {"max_retries": 8, "retry_backoff_seconds": 0.05}
    running = asyncio.create_task(
        run_flow(flow_of({"id": "poll", "type": "http_poll", "config": patient}), registry)
    )
    await asyncio.sleep(0.3)
    await api.start()
    result = await running
    assert result.state == "completed", result.error
    assert result.outputs["out"] == [{"ok": True}]
    assert [r.path for r in api.seen] == ["/status", "/status"]

    refused = await mini_http(lambda r: (401, "bad token"))
    denied = await run_flow(
        flow_of({"id": "poll", "type": "http_poll", "config": config | {"url": refused.url}}),
        registry,
    )
    assert denied.state == "failed" and len(refused.seen) == 1  # a 4xx is not retried
    assert f"GET {refused.url}: HTTP 401 Unauthorized: bad token" in denied.error


# -- websocket_subscribe --------------------------------------------------------------------
async def test_websocket_messages_become_records_and_it_reconnects():
    connections: list[str] = []

    async def feed(ws: Any) -> None:
        connections.append(await ws.recv())  # the subscribe message
        if len(connections) == 1:
            await ws.send(json.dumps({"id": 1, "sym": "A"}))
            await ws.send(json.dumps([{"id": 2, "sym": "B"}, {"id": 3, "sym": "C"}]))
            await ws.send("not json")
            await ws.close()  # the server drops the feed
            return
        await ws.send(json.dumps({"id": 4, "sym": "D"}))
        await ws.wait_closed()

    async with websockets.serve(feed, "127.0.0.1", 0) as ws_server:
        port = ws_server.sockets[0].getsockname()[1]
        config = {
            "url": f"ws://127.0.0.1:{port}/feed",
            "subscribe_message": '{"op": "subscribe"}',
            "linger_ms": 20,
            "retry_backoff_seconds": 0.05,
        }
        source = {"id": "ws", "type": "websocket_subscribe", "config": config}
        run = FlowRun.of(as_flow(flow_of(source, failure=True)), registry_with(WebsocketSubscribe))
        await run.start()
        out = run.processor("out")
        await until(lambda: len(out.rows) >= 4)
        await run.stop()
    assert [r["id"] for r in out.rows] == [1, 2, 3, 4]
    assert connections == ['{"op": "subscribe"}'] * 2
    assert run.processor("ws").connections == 2
    bad = run.processor("bad").rows
    assert [r["message"] for r in bad] == ["not json"] and "invalid JSON" in bad[0]["error"]


async def test_websocket_fails_clearly_when_nothing_listens():
    config = {
        "url": f"ws://127.0.0.1:{free_port()}/",
        "max_retries": 1,
        "retry_backoff_seconds": 0.01,
    }
    result = await run_flow(
        flow_of({"id": "ws", "type": "websocket_subscribe", "config": config}),
        registry_with(WebsocketSubscribe),
    )
    assert result.state == "failed"
    assert (
        f"cannot connect to {config['url']}" in result.error and "after 1 retries" in result.error
    )


# -- http_post ------------------------------------------------------------------------------
ROWS = [{"id": i, "name": f"n{i}"} for i in range(1, 6)]


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
async def test_post_sends_the_rows_in_requests_of_the_set_size(mini_http, fmt):
    api = await mini_http(lambda r: (200, "ok"))
    config = {
        "url": f"{api.url}/in",
        "format": fmt,
        "max_records_per_request": 2,
        "auth_token": "t0k",
    }
    assert await asyncio.to_thread(run_sink, HttpPost, config, ROWS) == {}
    if fmt == "json":
        bodies = [json.loads(r.body) for r in api.seen]
        assert {r.headers["content-type"] for r in api.seen} == {"application/json"}
    else:
        bodies = [[json.loads(line) for line in r.body.splitlines()] for r in api.seen]
        assert {r.headers["content-type"] for r in api.seen} == {"application/x-ndjson"}
    assert [len(b) for b in bodies] == [2, 2, 1]
    assert [row for body in bodies for row in body] == ROWS
    assert {r.headers["authorization"] for r in api.seen} == {"Bearer t0k"}


async def test_post_retries_503_then_succeeds(mini_http):
    answers = iter([(503, "later"), (503, "later")])
    api = await mini_http(lambda r: next(answers, (200, "ok")))
    config = {"url": api.url, "max_retries": 3, "retry_backoff_seconds": 0.01}
    assert await asyncio.to_thread(run_sink, HttpPost, config, ROWS) == {}
    assert len(api.seen) == 3 and json.loads(api.seen[-1].body) == ROWS


async def test_post_routes_a_refused_request_to_failure_with_the_status(mini_http):
    def check(r: Seen) -> Reply:
        ids = [row["id"] for row in json.loads(r.body)]
        return (400, {"error": "id 3 is invalid"}) if 3 in ids else (200, "ok")

    api = await mini_http(check)
    config = {"url": api.url, "max_records_per_request": 2, "on_error": "route"}
    out = await asyncio.to_thread(run_sink, HttpPost, config, ROWS)
    assert [r["id"] for r in out["failure"]] == [3, 4]
    error = out["failure"][0]["error"]
    assert error.startswith(f"POST {api.url}: HTTP 400") and "id 3 is invalid" in error
    assert len(api.seen) == 3  # a 4xx is not retried; the other requests went through

    with pytest.raises(ConnectionError, match="HTTP 400"):
        await asyncio.to_thread(run_sink, HttpPost, config | {"on_error": "fail"}, ROWS)


# -- who may send to an ingest endpoint -----------------------------------------------------
def test_a_node_with_its_own_token_takes_producers_without_an_account(server):
    assert server.http.put("/api/v1/secrets/ingest-token", json={"value": "t0k3n"}).is_success
    create_and_start(server, listen_flow("keyed", auth_token={"secret": "ingest-token"}))
    url = f"{server.url}/api/v1/ingest/keyed/in"
    refused = [
        httpx.post(url, json={"id": 1}),
        httpx.post(url, json={"id": 1}, headers={"Authorization": "Bearer wrong"}),
        server.http.post(url, json={"id": 1}),  # an admin's token is not the node's
    ]
    for reply in refused:
        assert reply.status_code == 401, reply.text
        assert "credential for node 'in'" in reply.json()["detail"]
        assert "Bearer" in reply.headers["www-authenticate"]
    taken = httpx.post(url, json={"id": 2}, headers={"Authorization": "Bearer t0k3n"})
    assert taken.status_code == 202
    server.http.post("/api/v1/flows/keyed/stop")
    assert server.sink_rows("keyed") == [{"id": 2}]


def test_basic_auth_credentials_work_too(server):
    assert server.http.put("/api/v1/secrets/ingest-pass", json={"value": "s3cret"}).is_success
    doc = listen_flow("basic", basic_username="producer", basic_password={"secret": "ingest-pass"})
    create_and_start(server, doc)
    url = f"{server.url}/api/v1/ingest/basic/in"
    assert httpx.post(url, json={"id": 1}, auth=("producer", "nope")).status_code == 401
    assert httpx.post(url, json={"id": 1}, auth=("producer", "s3cret")).status_code == 202
    server.http.post("/api/v1/flows/basic/stop")


def test_without_a_node_credential_only_an_operator_token_may_send(server):
    create_and_start(server, listen_flow("open"))
    url = f"{server.url}/api/v1/ingest/open/in"
    assert httpx.post(url, json={"id": 1}).status_code == 401
    viewer = user_with_role(server.http, "viewer")
    assert httpx.post(url, json={"id": 1}, headers=viewer).status_code == 403
    operator = user_with_role(server.http, "operator")
    assert httpx.post(url, json={"id": 2}, headers=operator).status_code == 202
    server.http.post("/api/v1/flows/open/stop")
    assert server.sink_rows("open") == [{"id": 2}]


# -- hosts the HTTP processors may call (against server-side request forgery) ---------------
async def test_http_processors_call_only_allowed_hosts_redirects_included(mini_http):
    from dataflow.graph import check_document
    from dataflow.processor import default_registry
    from dataflow.processor.reach import Reach
    from dataflow.runtime import RunContext

    inner = await mini_http(lambda r: (200, [{"secret": "internal"}]))
    outer = await mini_http(lambda r: (302, "", {"Location": f"{inner.url}/admin"}))
    port = outer.url.rsplit(":", 1)[1]
    reach = Reach(http_hosts=("localhost",))  # the outer server, by name; 127.0.0.1 is not
    refused = flow_of({"id": "poll", "type": "http_poll", "config": {"url": f"{inner.url}/x"}})
    refused["name"] = "probe"
    report = check_document(refused, default_registry(), reach=reach).report
    [error] = [e for e in report.errors if e.code == "not_allowed"]
    assert error.path == "nodes[0].config.url" and "http_allowed_hosts" in error.message
    # Allowed at design time, but its redirect leads to a host that is not: refused then.
    config = {"url": f"http://localhost:{port}/start", "once": True}
    result = await run_flow(
        flow_of({"id": "poll", "type": "http_poll", "config": config}),
        registry_with(HttpPoll),
        context=RunContext(reach=reach),
    )
    assert result.state == "failed"
    assert "is not one the server lets flows call" in (result.error or "")
    assert inner.seen == []  # the internal server was never reached
    cidr = Reach(http_hosts=("10.0.0.0/8", "*.example.com"))
    assert cidr.url("http://10.1.2.3/x") and cidr.url("https://api.example.com/x")
    with pytest.raises(PermissionError):
        cidr.url("http://169.254.169.254/latest/meta-data")
