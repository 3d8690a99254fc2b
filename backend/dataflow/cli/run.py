"""`dataflow run FLOW.json`: run a flow in the terminal with a live progress display."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from dataflow.graph import FlowPlan, check_document
from dataflow.model import Flow, new_id
from dataflow.processor import default_registry
from dataflow.runtime.engine import FlowRun, RunContext
from dataflow.runtime.metrics import FlowMetrics
from dataflow.runtime.state import FINAL_STATES
from dataflow.secrets import EnvSecrets


def _human(n: float) -> str:
    for unit in ("", "k", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.0f}{unit}" if unit == "" else f"{n:.1f}{unit}"
        n /= 1000
    return f"{n:.1f}T"


def progress_table(flow: Flow, metrics: FlowMetrics) -> Table:
    table = Table(title=f"{flow.name}: {metrics.state}, {metrics.elapsed:.1f}s", expand=False)
    for column in ("node", "type", "in", "out", "records/s", "errors", "busy s"):
        table.add_column(column, justify="left" if column in ("node", "type") else "right")
    for node_id, n in metrics.nodes.items():
        rate = n.records_out_per_second or n.records_in_per_second
        table.add_row(
            node_id,
            n.type,
            _human(sum(n.records_in.values())),
            _human(sum(n.records_out.values())),
            _human(rate),
            str(n.errors),
            f"{n.busy_seconds:.1f}",
        )
    for edge_id, e in metrics.edges.items():
        bar = "#" * round(e.fill_ratio * 10)
        table.add_row(
            f"  edge {edge_id}",
            "queue",
            f"{e.queued_batches}/{e.max_batches}",
            f"[{bar:<10}]",
            _human(e.records),
            "",
            f"bp {e.backpressure_seconds:.1f}",
        )
    return table


async def _run(plan: FlowPlan, data_dir: Path, allow_python: bool, quiet: bool) -> int:
    console = Console(stderr=True)
    flow = plan.flow
    run = FlowRun(
        plan,
        context=RunContext(
            flow_id=flow.id or "cli",
            run_id=new_id("run-"),
            data_dir=data_dir,
            allow_python=allow_python,
        ),
    )
    loop = asyncio.get_running_loop()
    stops: list[asyncio.Task] = []

    def interrupt() -> None:  # first Ctrl+C drains gracefully, the second cancels
        stops.append(loop.create_task(run.stop(force=bool(stops))))

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupt)
    await run.start()
    if quiet:
        outcome = await run.wait()
    else:
        with Live(
            progress_table(flow, run.metrics()), console=console, refresh_per_second=4
        ) as live:
            while run.state not in FINAL_STATES:
                await asyncio.sleep(0.5)
                live.update(progress_table(flow, run.metrics()))
            outcome = await run.wait()
            live.update(progress_table(flow, run.metrics()))
    metrics = run.metrics()
    written = sum(
        sum(n.records_in.values())
        for n in metrics.nodes.values()
        if not n.records_out and n.records_in
    )
    if outcome.state == "failed":
        console.print(f"[red]failed[/red] in node {outcome.error_node!r}: {outcome.error}")
        return 1
    console.print(f"{outcome.state} in {metrics.elapsed:.2f}s: {written} records reached the sinks")
    return 0 if outcome.state == "completed" else 130


def run_file(path: Path, *, data_dir: Path, allow_python: bool = False, quiet: bool = False) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("dataflow.run").setLevel(logging.INFO)  # the console sink's output
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"{path}: {exc.strerror}", file=sys.stderr)
        return 1
    secrets = EnvSecrets()  # no server here: values come from DATAFLOW_SECRET_<NAME>
    checked = check_document(data, default_registry(), secrets)
    for issue in checked.report.errors:
        print(f"{path}: error: {issue.path}: {issue.message} [{issue.code}]", file=sys.stderr)
    if checked.plan is None:
        return 1
    return asyncio.run(_run(checked.plan.with_secrets(secrets), data_dir, allow_python, quiet))
