"""Validation off the event loop: in threads of its own, a few at a time, with a time limit,
so that checking a flow (which may bind SQL or glob files) never stalls the server or takes
the worker threads running flows use."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dataflow.graph.validate import Checked, check_document, check_flow
from dataflow.model import Flow
from dataflow.processor import Registry
from dataflow.processor.reach import Reach
from dataflow.secrets import Secrets


class CheckTimeout(TimeoutError):
    def __init__(self, seconds: float):
        super().__init__(
            f"validation took longer than {seconds:g} s (a glob over a huge tree, or a slow "
            "file or server?): nothing was changed; narrow the paths, or raise "
            "validation_timeout_seconds"
        )


class Checker:
    def __init__(
        self,
        registry: Registry,
        secrets: Secrets | None = None,
        reach: Reach | None = None,
        *,
        workers: int = 2,
        timeout_seconds: float = 30.0,
    ):
        self.registry = registry
        self.secrets = secrets
        self.reach = reach
        self.timeout_seconds = timeout_seconds
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="dataflow-check")
        # More waiting than workers only queues: each waits within its own time limit.
        self._slots = asyncio.Semaphore(workers * 4)

    async def document(self, doc: Any, *, python_gate: str | None = None) -> Checked:
        return await self._run(check_document, doc, python_gate)

    async def flow(self, flow: Flow, *, python_gate: str | None = None) -> Checked:
        return await self._run(check_flow, flow, python_gate)

    async def _run(self, check: Any, subject: Any, python_gate: str | None) -> Checked:
        loop = asyncio.get_running_loop()
        work_item = functools.partial(
            check, subject, self.registry, self.secrets, self.reach, python_gate=python_gate
        )
        async with self._slots:
            work = loop.run_in_executor(self._pool, work_item)
            try:
                return await asyncio.wait_for(work, self.timeout_seconds)
            except TimeoutError:
                raise CheckTimeout(self.timeout_seconds) from None

    def close(self) -> None:
        # Running checks end on their own (globs and queries have limits of their own).
        self._pool.shutdown(wait=False, cancel_futures=True)
