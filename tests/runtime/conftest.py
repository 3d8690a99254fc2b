"""Fixtures for the runtime tests: queue capacities 1 and 64, compact flow building, polling.

Helpers come as fixtures: several test folders hold a conftest.py, so `from conftest import`
would pick whichever was imported first.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from dataflow.model import Flow
from dataflow.testing import as_flow, with_queue_capacity

_EDGE = re.compile(r"^(\w+)(?::(\w+))?\s*->\s*(\w+)(?::(\w+))?$")


@pytest.fixture(params=[1, 64], ids=lambda c: f"capacity{c}")
def capacity(request: pytest.FixtureRequest) -> int:
    """Every edge's max_batches: 1 flushes out backpressure bugs, 64 is the default."""
    return request.param


def build_flow(
    nodes: dict[str, tuple[str, dict[str, Any]] | str],
    edges: list[str],
    capacity: int | None = None,
) -> Flow:
    """`nodes`: id -> type or (type, config); `edges`: "src[:port] -> dst[:port]"."""
    doc_nodes = []
    for node_id, spec in nodes.items():
        type_name, config = (spec, {}) if isinstance(spec, str) else spec
        doc_nodes.append({"id": node_id, "type": type_name, "config": config})
    doc_edges = []
    for i, text in enumerate(edges, 1):
        match = _EDGE.match(text.strip())
        assert match, f"bad edge {text!r}"
        source, source_port, target, target_port = match.groups()
        doc_edges.append(
            {
                "id": f"e{i}",
                "source": source,
                "source_port": source_port or "out",
                "target": target,
                "target_port": target_port or "in",
            }
        )
    flow = as_flow({"name": "test", "nodes": doc_nodes, "edges": doc_edges})
    return flow if capacity is None else with_queue_capacity(flow, capacity)


@pytest.fixture
def make_flow() -> Callable[..., Flow]:
    return build_flow


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until `predicate()` holds; the timeout only guards against hangs."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


@pytest.fixture
def until() -> Callable[..., Awaitable[None]]:
    return wait_until
