"""Helpers for the end-to-end connector tests: the HTTP API of a server, waits that fail with
the run's own error, Kafka producers and topic readers, and a TCP proxy on its own thread."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.connectors.db_fixtures import TcpProxy
from tests.server import ROOT

FLOWFILES = ROOT / "flowfiles"
#: Tansu hands a new group its partitions after about half the session timeout: keep it short.
FAST_GROUP = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 1000, "linger_ms": 50}
_ids = itertools.count()


def unique(prefix: str) -> str:
    """A name no other test (or earlier run of this one) uses: topics, groups, flow ids."""
    return f"{prefix}-{time.monotonic_ns()}-{next(_ids)}"


def example(name: str) -> dict[str, Any]:
    """An example flow of flowfiles/ as a document to adapt to the test's services."""
    return json.loads((FLOWFILES / f"{name}.json").read_text())


def node(doc: dict[str, Any], node_id: str) -> dict[str, Any]:
    """The config of one node of a flow document (to substitute test addresses into)."""
    return next(n for n in doc["nodes"] if n["id"] == node_id)["config"]


class RunFailed(AssertionError):
    pass


class Api:
    """The DataFlow HTTP API over any httpx-style client: Litestar's TestClient (the app in
    this process) or httpx.Client (a `dataflow serve` process)."""

    def __init__(self, client: httpx.Client):
        self.client = client

    def create(self, doc: dict[str, Any]) -> str:
        response = self.client.post("/api/v1/flows", json=doc)
        assert response.status_code == 201, response.text
        return response.json()["flow"]["id"]

    def start(self, flow_id: str) -> dict[str, Any]:
        response = self.client.post(f"/api/v1/flows/{flow_id}/start")
        assert response.status_code == 200, response.text
        run = response.json()
        if run["state"] == "failed":
            raise RunFailed(f"flow {flow_id} failed to start: {run['error']}")
        return run

    def stop(self, flow_id: str) -> dict[str, Any]:
        response = self.client.post(f"/api/v1/flows/{flow_id}/stop")
        assert response.status_code == 200, response.text
        return response.json()

    def run(self, flow_id: str) -> dict[str, Any]:
        return self.client.get(f"/api/v1/flows/{flow_id}/run").json()

    def metrics(self, flow_id: str) -> dict[str, Any]:
        return self.client.get(f"/api/v1/flows/{flow_id}/metrics").json()

    def node_metrics(self, flow_id: str, node_id: str) -> dict[str, Any]:
        return self.metrics(flow_id)["nodes"].get(node_id, {})

    def records_in(self, flow_id: str, node_id: str) -> int:
        return sum(self.node_metrics(flow_id, node_id).get("records_in", {}).values())

    def records_out(self, flow_id: str, node_id: str) -> int:
        return sum(self.node_metrics(flow_id, node_id).get("records_out", {}).values())

    def event_types(self, flow_id: str) -> list[str]:
        return [e["type"] for e in self.client.get(f"/api/v1/flows/{flow_id}/events").json()]

    def watch(self, *flow_ids: str) -> Callable[[], None]:
        """For eventually(): stop waiting, with the run's error, once a flow is not running."""
        return lambda: self.check_running(*flow_ids)

    def check_running(self, *flow_ids: str) -> None:
        """Raise at once, with the run's error, when a flow is no longer running."""
        for flow_id in flow_ids:
            run = self.run(flow_id)
            if run["state"] not in ("running", "paused"):
                raise RunFailed(
                    f"flow {flow_id} is {run['state']}: {run.get('error')} "
                    f"(node {run.get('error_node')})"
                )


async def eventually(
    check: Callable[[], Any | Awaitable[Any]],
    what: str,
    timeout: float = 30,
    interval: float = 0.1,
    watch: Callable[[], None] | None = None,
) -> Any:
    """Poll `check` until it returns something truthy (returned); `watch` raises when waiting
    is pointless (the run failed). A timeout names what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if watch is not None:
            watch()
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(interval)


# -- Kafka ------------------------------------------------------------------------------------
def kafka_pipeline(
    flow_id: str, bootstrap: str, source: str, target: str, group: str, instance: str = "a"
) -> dict[str, Any]:
    """kafka_consume -> filter (n not a multiple of 3) -> select -> kafka_publish."""
    return {
        "id": flow_id,
        "name": flow_id,
        "nodes": [
            {
                "id": "src",
                "type": "kafka_consume",
                "config": {
                    "bootstrap_servers": bootstrap,
                    "topics": [source],
                    "group_id": group,
                    "metadata": ["partition"],
                    "batch_size": 200,
                    **FAST_GROUP,
                },
            },
            {"id": "keep", "type": "filter", "config": {"condition": "n % 3 <> 0"}},
            {
                "id": "shape",
                "type": "select",
                "config": {
                    "columns": [
                        {"name": "n"},
                        {"name": "label", "expr": "'item-' || n"},
                        {"name": "partition", "expr": "kafka_partition"},
                        {"name": "instance", "expr": f"'{instance}'"},
                    ]
                },
            },
            {
                "id": "out",
                "type": "kafka_publish",
                # Tansu has no idempotent producer.
                "config": {
                    "bootstrap_servers": bootstrap,
                    "topic": target,
                    "key_column": "n",
                    "enable_idempotence": False,
                },
            },
        ],
        "edges": [
            {"id": "e1", "source": "src", "target": "keep"},
            {"id": "e2", "source": "keep", "source_port": "matched", "target": "shape"},
            {"id": "e3", "source": "shape", "target": "out"},
        ],
    }


class Producer:
    """JSON records into a topic: `async with Producer(bootstrap) as p: await p.send(...)`."""

    def __init__(self, bootstrap: str):
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            value_serializer=lambda v: v if isinstance(v, bytes) else json.dumps(v).encode(),
            key_serializer=lambda k: None if k is None else str(k).encode(),
        )

    async def __aenter__(self) -> Producer:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def send(
        self,
        topic: str,
        values: Iterable[dict[str, Any] | bytes],
        partition: Callable[[int], int] | None = None,
        key: str | None = None,
    ) -> None:
        """Send every value and wait for the broker's acknowledgements; `partition(i)` picks
        the partition of the i-th value explicitly (else the key's or any partition)."""
        sent = []
        for i, value in enumerate(values):
            part = partition(i) if partition is not None else None
            sent.append(
                await self.producer.send(
                    topic, value, partition=part, key=value.get(key) if key else None
                )
            )
        await asyncio.gather(*sent)


class TopicReader:
    """Reads every partition of a topic from the beginning, without a consumer group (no
    rebalance to wait for), and keeps the decoded JSON values with their partitions.

    Counts records instead of trusting end offsets, which Tansu reports late."""

    def __init__(self, bootstrap: str, topic: str, partitions: int):
        self.topic = topic
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.records: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()
        self.consumer.assign(self.partitions)
        await self.consumer.seek_to_beginning(*self.partitions)
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.consumer.stop()

    async def _read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200)
            for tp, messages in batches.items():
                for m in messages:
                    try:
                        value = json.loads(m.value)
                    except ValueError:
                        value = m.value  # not JSON: kept as it came
                    self.records.append(
                        {
                            "value": value,
                            "key": m.key,
                            "partition": tp.partition,
                            "offset": m.offset,
                        }
                    )

    def values(self) -> list[dict[str, Any]]:
        return [r["value"] for r in self.records]

    async def until(self, count: int, timeout: float = 30, watch=None) -> list[dict[str, Any]]:
        """Wait for at least `count` records; return the values."""
        assert self._task is not None

        def enough() -> bool:
            if self._task.done():
                self._task.result()  # the reader died: say why
            return len(self.records) >= count

        await eventually(
            enough,
            f"{count} records on {self.topic} (got {len(self.records)})",
            timeout,
            watch=watch,
        )
        return self.values()


# -- outages ----------------------------------------------------------------------------------
class ThreadedProxy:
    """tests.connectors' TcpProxy on an event loop of its own thread, so that it forwards
    while the test or the app's loop is busy (a TestClient call blocks the caller's loop)."""

    def __init__(self, target_port: int):
        self.proxy = TcpProxy(target_port)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def _call(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)  # type: ignore[arg-type]

    @property
    def port(self) -> int:
        return self.proxy.port

    def start(self) -> ThreadedProxy:
        """Listen (again, on the same port after the first start)."""
        self._call(self.proxy.start())
        return self

    def stop(self) -> None:
        """Drop every connection and refuse new ones: the server is down for the client."""
        self._call(self.proxy.stop())

    def close(self) -> None:
        self._call(self._shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def _shutdown(self) -> None:
        if hasattr(self.proxy, "_server") and self.proxy.running:
            await self.proxy.stop()
        # Connections still being served end with the loop.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def jsonl_rows(directory: Path) -> list[dict[str, Any]]:
    """Rows of the complete JSON-lines files write_file published (not the hidden .tmp)."""
    return [
        json.loads(line)
        for f in sorted(directory.glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
