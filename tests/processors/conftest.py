"""Drive a processor directly, as the engine does: parse, open, feed, finish or flush, close.

Tests get the helpers through the `h` fixture: with several test folders, each holding a
conftest.py, `from conftest import ...` would pick whichever was imported first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dataflow.processor import Context, Processor, Sink, Source, Transform

Rows = list[dict[str, Any]]


def to_batch(rows: Rows | pa.RecordBatch, schema: pa.Schema | None = None) -> pa.RecordBatch:
    if isinstance(rows, pa.RecordBatch):
        return rows
    return pa.RecordBatch.from_pylist(rows, schema=schema)


def collect(out: Mapping[str, Any] | None, into: dict[str, Rows]) -> dict[str, Rows]:
    for port, data in (out or {}).items():
        if data is not None:
            into.setdefault(port, []).extend(data.to_pylist())
    return into


def by_port(items: Iterable[Any], default: str = "out") -> dict[str, Rows]:
    """Rows per port from what a source yielded: batches or (port, batch) pairs."""
    out: dict[str, Rows] = {}
    for item in items:
        port, batch = item if isinstance(item, tuple) else (default, item)
        out.setdefault(port, []).extend(batch.to_pylist())
    return out


class Harness:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.to_batch, self.by_port = to_batch, by_port

    def make(self, cls: type[Processor], config: Mapping[str, Any], **ctx: Any) -> Any:
        """A processor built from a raw config dict, as a node of a flow would be."""
        context = Context(node_id="test", run_id="run1", data_dir=self.data_dir, **ctx)
        return cls(cls.parse_config(config), context)

    async def run_transform(
        self, processor: Transform, batches: Iterable[Rows | pa.RecordBatch], port: str = "in"
    ) -> dict[str, Rows]:
        """Rows per output port after feeding every batch (in worker threads) and finishing."""
        out: dict[str, Rows] = {}
        await processor.open()
        try:
            for batch in batches:
                collect(await processor.process_async(port, to_batch(batch)), out)
            collect(processor.finish(), out)
        finally:
            await processor.close()
        return out

    async def transform_rows(
        self, cls: type[Transform], config: Mapping[str, Any], rows: Rows, **ctx: Any
    ) -> dict[str, Rows]:
        """One batch of `rows` through a fresh processor: {port: rows}."""
        return await self.run_transform(self.make(cls, config, **ctx), [rows])

    async def pull(self, source: Source, limit: int | None = None, timeout: float = 10) -> list:
        """Up to `limit` items (batches or (port, batch) pairs) from an opened source."""
        items: list[Any] = []
        stream = source.batches()

        async def drain() -> None:
            async for item in stream:
                items.append(item)
                if limit is not None and len(items) >= limit:
                    break

        try:
            await asyncio.wait_for(drain(), timeout)
        finally:
            await stream.aclose()
        return items

    async def run_source(self, source: Source, limit: int | None = None) -> dict[str, Rows]:
        await source.open()
        try:
            return by_port(await self.pull(source, limit))
        finally:
            await source.close()

    async def run_sink(self, sink: Sink, batches: Iterable[Rows | pa.RecordBatch]) -> Sink:
        await sink.open()
        try:
            for batch in batches:
                await sink.write_async(to_batch(batch))
            await sink.flush_async()
        finally:
            await sink.close()
        return sink


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """The helpers, with tmp_path as data dir and as working directory (relative paths in
    configs resolve against the server's working directory)."""
    monkeypatch.chdir(tmp_path)
    return Harness(tmp_path)
