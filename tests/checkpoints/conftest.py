"""Fixtures for the checkpoint tests: queue capacities 1 and 64, flow building, polling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from dataflow.model import Flow
from tests.checkpoints.support import STORES
from tests.runtime.conftest import build_flow, wait_until


@pytest.fixture(params=[1, 64], ids=lambda c: f"capacity{c}")
def capacity(request: pytest.FixtureRequest) -> int:
    """Every edge's max_batches: 1 flushes out backpressure bugs, 64 is the default."""
    return request.param


@pytest.fixture
def make_flow() -> Callable[..., Flow]:
    return build_flow


@pytest.fixture
def until() -> Callable[..., Awaitable[None]]:
    return wait_until


@pytest.fixture(autouse=True)
def _fresh_stores():
    """Each test's two-phase sinks start with empty durable stores."""
    STORES.clear()
    yield
    STORES.clear()
