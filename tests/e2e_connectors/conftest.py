"""Fixtures for the end-to-end connector tests: flows run by the real run manager (the app in
this process, or a `dataflow serve` process) against a real Kafka-protocol broker, PostgreSQL
and Redis, each test with topics, schemas and keys of its own."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.settings import Settings
from tests.auth import auth_settings, sign_in
from tests.connectors.db_fixtures import (  # noqa: F401  (fixtures: importing registers them)
    pg,
    pg_schema,
    redis_client,
    redis_prefix,
)
from tests.e2e_connectors.support import Api, ThreadedProxy
from tests.kafka_broker import kafka_broker  # noqa: F401


@pytest.fixture
def settings(tmp_path) -> Settings:
    # Frequent checkpoints: offsets are reported (and files published) within a fraction of
    # a second, as in production every few seconds.
    return Settings(
        data_dir=str(tmp_path / "data"),
        offsets_report_seconds=0.2,
        metrics_push_seconds=0.2,
        **auth_settings(),
    )


@pytest.fixture
def api(settings) -> Iterator[Api]:
    """The app on a fresh SQLite journal, in this process; its lifespan (run recovery,
    draining shutdown) runs as in `dataflow serve`."""
    with TestClient(app=create_app(settings), timeout=60) as client:
        sign_in(client)
        yield Api(client)


@pytest.fixture
def node_logs(caplog) -> pytest.LogCaptureFixture:
    """Warnings the nodes of a run log (logger dataflow.run.<node id>)."""
    caplog.set_level(logging.WARNING, logger="dataflow.run")
    return caplog


@pytest.fixture
def pg_proxy() -> Iterator[ThreadedProxy]:
    """127.0.0.1:<port> forwarded to PostgreSQL until stop(): an outage to simulate."""
    proxy = ThreadedProxy(5432).start()
    yield proxy
    proxy.close()


@pytest.fixture
def redis_proxy() -> Iterator[ThreadedProxy]:
    proxy = ThreadedProxy(6379).start()
    yield proxy
    proxy.close()
