"""What checkpoints cost: the file flow's throughput with and without them, and how long a
killed server takes to produce output again.

Throughput: the flow of benchmarks/file_flow.py (read_file -> filter -> select -> write_file,
its data generation too) run by the server's run manager (RunManager: checkpoints journaled
in SQLite with synchronous=FULL, state files fsync'd, sinks prepared and committed) in a
child process per round, with `settings.checkpoint_interval_seconds` of 3600 ("none": only
the end-of-run checkpoint every run takes), 1 s and 0.1 s, in delivery at_least_once and
exactly_once (write_file stages files and publishes them at each checkpoint). Rounds
alternate the variants; the best round of each is compared, as in file_flow.py.

Recovery: `dataflow serve` runs a long flow (the same flow over the CSV listed `--copies`
times, at_least_once or exactly_once, checkpoints every 1 s); SIGKILL at a random moment
after its first checkpoint, then the server is started again and timed from the spawn of
the process: the API answering, the first record reaching the sink (its records_in), and the
first new output file published (visible to a glob). Median of `--trials` trials per mode.

Run: .venv/bin/python benchmarks/checkpoints.py [--rows 2000000] [--rounds 5] [--trials 5]
     [--copies 20] [--no-recovery] [--no-throughput] [--no-results] [--keep]
Figures are printed and appended to benchmarks/RESULTS.md (a section of its own, replaced
when run again).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import file_flow  # the flow and data of the file-flow benchmark

HERE, ROOT, OUT = file_flow.HERE, file_flow.ROOT, file_flow.OUT
SECTION = "## Checkpoints: overhead and recovery"
NONE = 3600.0  # the longest interval a flow accepts: no checkpoint but the last one
#: (label, delivery, checkpoint interval in seconds)
VARIANTS = [
    ("at_least_once, none", "at_least_once", NONE),
    ("at_least_once, 1 s", "at_least_once", 1.0),
    ("at_least_once, 0.1 s", "at_least_once", 0.1),
    ("exactly_once, none", "exactly_once", NONE),
    ("exactly_once, 1 s", "exactly_once", 1.0),
    ("exactly_once, 0.1 s", "exactly_once", 0.1),
]


def document(csv: Path | str, out: Path, delivery: str, interval: float) -> dict[str, Any]:
    doc = file_flow.flow_document(Path(csv), out)
    doc["id"] = "bench"
    doc["settings"] = {"delivery": delivery, "checkpoint_interval_seconds": interval}
    return doc


# -- throughput: one run in a child process ----------------------------------------------------
def child(delivery: str, interval: float, csv: Path, out: Path, data: Path) -> dict[str, Any]:
    from dataflow.events.flows import FlowStore
    from dataflow.events.open import open_journal
    from dataflow.model import convert_flow
    from dataflow.processor import Registry
    from dataflow.runtime.runs import RunManager
    from dataflow.settings import Settings
    from dataflow_processors.filter import Filter
    from dataflow_processors.read_file import ReadFile
    from dataflow_processors.select import Select
    from dataflow_processors.write_file import WriteFile

    async def go() -> dict[str, Any]:
        data.mkdir(parents=True, exist_ok=True)
        settings = Settings(data_dir=str(data))
        journal = open_journal(settings.resolved_journal_url)
        flows = FlowStore(journal)
        registry = Registry([ReadFile, Filter, Select, WriteFile])
        runs = RunManager(journal, flows, registry, settings)
        flow = convert_flow(document(csv, out, delivery, interval))
        await flows.create(flow)
        started, cpu = time.perf_counter(), file_flow.cpu_seconds()
        await runs.start(flow.id)
        engine = runs.engine(flow.id)
        assert engine is not None
        await engine.wait()
        while runs.state_of(flow.id) in ("running", "paused"):  # the end being journaled
            await asyncio.sleep(0.001)
        elapsed, cpu = time.perf_counter() - started, file_flow.cpu_seconds() - cpu
        status = runs.status(flow.id)
        assert status is not None
        if status.state != "completed":
            raise SystemExit(f"run {status.state}: {status.error}")
        await journal.close()
        return {"seconds": elapsed, "cpu_s": cpu, "checkpoints": status.checkpoint_id or 0}

    return asyncio.run(go())


def copies_of(csv: Path, copies: int, name: str) -> str:
    """A glob over `copies` symlinks to the CSV: a long input without copying 100 MB each."""
    if copies == 1:
        return str(csv)
    directory = OUT / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for i in range(copies):
        (directory / f"orders-{i:03d}.csv").symlink_to(csv.resolve())
    return str(directory / "*.csv")


def run_variant(delivery: str, interval: float, inputs: str, check: bool) -> dict[str, Any]:
    out, data = OUT / "ckpt-out", OUT / "ckpt-data"
    for path in (out, data):
        shutil.rmtree(path, ignore_errors=True)
    args = [sys.executable, __file__, "--child", delivery, str(interval), inputs, str(out)]
    result, _ = file_flow.run_child([*args, str(data)])
    assert result is not None
    if check:
        result["summary"] = file_flow.summarize(out)
    return result


def throughput(rows: int, copies: int, rounds: int) -> dict[str, Any]:
    inputs = copies_of(file_flow.make_data(rows), copies, "ckpt-in")
    results: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in VARIANTS}
    for n in range(rounds):
        for label, delivery, interval in VARIANTS:
            # The first round's outputs are checked: every variant wrote the same records.
            results[label].append(run_variant(delivery, interval, inputs, check=n == 0))
        print(f"  {rows * copies:,} rows: round {n + 1}/{rounds} done", flush=True)
    reference = results[VARIANTS[0][0]][0]["summary"]
    rows_out: dict[str, Any] = {}
    total = rows * copies
    for label, runs in results.items():
        file_flow.check_same(label, runs[0]["summary"], reference)
        best = min(runs, key=lambda r: r["seconds"])
        rows_out[label] = {
            "best_s": best["seconds"],
            "median_s": statistics.median(r["seconds"] for r in runs),
            "rows_per_s": total / best["seconds"],
            "cpu_s": statistics.median(r["cpu_s"] for r in runs),
            "checkpoints": statistics.median(r["checkpoints"] for r in runs),
        }
    return {"rows": total, "copies": copies, "variants": rows_out}


# -- recovery: a real server, killed ----------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`dataflow serve` on a port of its own; spawn() returns at once (the caller times)."""

    def __init__(self, data: Path):
        self.data, self.port = data, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        log = open(self.data.parent / "server.log", "ab")  # noqa: SIM115  (the child holds it)
        args = ["serve", "--port", str(self.port), "--data-dir", str(self.data)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dataflow.cli", *args, "--log-level", "warning"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def up(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise SystemExit(f"server exited: {(self.data.parent / 'server.log').read_text()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.up():
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def published(out: Path, since: float = 0.0) -> set[str]:
    """Output files a reader sees (glob skips the hidden .tmp and staging names), written
    after `since` (wall clock): a restart may first publish files staged before the kill."""
    found = set()
    for path in glob.glob(f"{out}/*.jsonl"):
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_mtime > since:
                found.add(path)
    return found


def sink_records_in(server: Server) -> int:
    try:
        metrics = httpx.get(f"{server.url}/api/v1/flows/bench/metrics", timeout=1).json()
    except (httpx.HTTPError, ValueError):
        return 0
    return sum(metrics.get("nodes", {}).get("out", {}).get("records_in", {}).values())


def recovery_trial(
    inputs: str, delivery: str, where: Path, rng: random.Random
) -> dict[str, float] | None:
    """One kill and restart; None when the run ended before the kill came."""
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    out = where / "out"
    server = Server(where / "data")
    server.spawn()
    try:
        server.wait_up()
        doc = document(inputs, out, delivery, 1.0)
        doc["nodes"][-1]["config"]["roll_rows"] = 100_000  # at least once: a file per roll
        httpx.post(f"{server.url}/api/v1/flows", json=doc, timeout=30).raise_for_status()
        httpx.post(f"{server.url}/api/v1/flows/bench/start", timeout=30).raise_for_status()
        while not (httpx.get(f"{server.url}/api/v1/flows/bench/run").json().get("checkpoint_id")):
            time.sleep(0.02)
        time.sleep(rng.uniform(0.2, 2.0))
        if httpx.get(f"{server.url}/api/v1/flows/bench/run").json()["state"] != "running":
            return None
        server.stop(signal.SIGKILL)
        killed_at = time.time()
        spawned = time.perf_counter()
        server.spawn()
        up = first_in = visible = None
        while visible is None or first_in is None:
            now = time.perf_counter() - spawned
            if now > 120:
                raise SystemExit("no new output within 120 s of the restart")
            if up is None and server.up():
                up = time.perf_counter() - spawned
            if up is not None and first_in is None and sink_records_in(server) > 0:
                first_in = time.perf_counter() - spawned
            if visible is None and published(out, since=killed_at):
                visible = time.perf_counter() - spawned
            time.sleep(0.005)
        assert up is not None
        return {"up": up, "first_in": first_in, "visible": visible}
    finally:
        server.stop(signal.SIGKILL)


def recovery(rows: int, copies: int, trials: int, seed: int) -> dict[str, Any]:
    inputs = copies_of(file_flow.make_data(rows), copies, "ckpt-in")
    rng = random.Random(seed)
    results: dict[str, Any] = {}
    for delivery in ("at_least_once", "exactly_once"):
        done: list[dict[str, float]] = []
        attempts = 0
        while len(done) < trials and attempts < trials * 3:
            attempts += 1
            trial = recovery_trial(inputs, delivery, OUT / "ckpt-recovery", rng)
            if trial is not None:
                done.append(trial)
                print(f"  {delivery} trial {len(done)}: {json.dumps(trial)}", flush=True)
        results[delivery] = {
            key: statistics.median(t[key] for t in done) for key in ("up", "first_in", "visible")
        }
        results[delivery]["trials"] = len(done)
        results[delivery]["range_visible"] = (
            min(t["visible"] for t in done),
            max(t["visible"] for t in done),
        )
    shutil.rmtree(OUT / "ckpt-recovery", ignore_errors=True)
    return {"rows": rows * copies, "copies": copies, "modes": results}


# -- report -------------------------------------------------------------------------------------
def _pct(value: float, base: float) -> str:
    return f"{(value / base - 1) * 100:+.1f} %"


def throughput_lines(sizes: list[dict[str, Any]]) -> list[str]:
    """One row per variant; "vs none": against the same delivery without periodic
    checkpoints (wall time of the best rounds, median CPU time)."""
    lines = [
        "| input rows | delivery | checkpoint every | checkpoints | seconds | rows/s"
        " | wall vs none | CPU seconds | CPU vs none |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in sizes:
        for label, delivery, interval in VARIANTS:
            v = t["variants"][label]
            none = t["variants"][f"{delivery}, none"]
            every = "none" if interval == NONE else f"{interval:g} s"
            lines.append(
                f"| {t['rows']:,} | {delivery} | {every} | {v['checkpoints']:.0f}"
                f" | {v['best_s']:.2f} | {v['rows_per_s']:,.0f}"
                f" | {_pct(v['best_s'], none['best_s'])}"
                f" | {v['cpu_s']:.2f} | {_pct(v['cpu_s'], none['cpu_s'])} |"
            )
    return lines


def throughput_summary(sizes: list[dict[str, Any]]) -> list[str]:
    def n(count: float) -> str:
        return f"{count:.0f} checkpoint{'' if count == 1 else 's'}"

    out = []
    for t in sizes:
        v = t["variants"]
        parts = []
        for delivery in ("at_least_once", "exactly_once"):
            none, every = v[f"{delivery}, none"], v[f"{delivery}, 1 s"]
            fast = v[f"{delivery}, 0.1 s"]
            extra = fast["checkpoints"] - none["checkpoints"]
            cpu = (fast["cpu_s"] - none["cpu_s"]) / extra * 1000 if extra > 0 else 0.0
            each = f"~{cpu:.0f} ms of CPU each" if cpu > 0 else "no CPU cost above the noise"
            parts.append(
                f"{delivery} every 1 s {_pct(every['best_s'], none['best_s'])}"
                f" ({n(every['checkpoints'])}), every 0.1 s {_pct(fast['best_s'], none['best_s'])}"
                f" ({n(fast['checkpoints'])}, {each})"
            )
        out.append(f"- {t['rows']:,} rows, wall time against none: " + "; ".join(parts) + ".")
    return out


def recovery_lines(r: dict[str, Any]) -> list[str]:
    lines = [
        "| delivery | trials | API answers | first record at the sink"
        " | first new output file (range) |",
        "|---|---:|---:|---:|---:|",
    ]
    for delivery, m in r["modes"].items():
        lo, hi = m["range_visible"]
        lines.append(
            f"| {delivery} | {m['trials']} | {m['up']:.2f} s | {m['first_in']:.2f} s"
            f" | {m['visible']:.2f} s ({lo:.2f}-{hi:.2f}) |"
        )
    return lines


def _para(text: str) -> list[str]:
    return textwrap.wrap(" ".join(text.split()), 92)


def section(t: list[dict[str, Any]], r: dict[str, Any] | None, m: dict, rounds: int) -> str:
    lines = [SECTION, ""]
    lines += _para(
        f"Written by `benchmarks/checkpoints.py` on {m['date']}: {m['cores']} cores, load"
        f" average {m['load']:.1f} when it started."
    )
    if t:
        lines += [""]
        lines += _para(
            """The file flow above, run by the server's run manager: checkpoints journaled in
            SQLite (synchronous=FULL), sinks prepared and committed (exactly_once: write_file
            stages its files and publishes them at each checkpoint). "none" is an interval of
            3600 s: only the end-of-run checkpoint every run takes."""
            + "".join(
                f" {x['rows']:,} rows take {x['variants'][VARIANTS[0][0]]['best_s']:.1f} s"
                f" ({x['copies']} {'copy' if x['copies'] == 1 else 'copies'} of the CSV)."
                for x in t
            )
            + " A run shorter than the interval takes no periodic checkpoint at all."
            f" Wall time: best of {rounds} rounds; CPU: median. Every variant wrote the same"
            " records. Differences of a few % in wall time are the machine's noise."
        )
        lines += ["", *throughput_lines(t), "", *throughput_summary(t)]
    if r is not None:
        lines += [""]
        lines += _para(
            f"""Recovery: `dataflow serve` runs the same flow over {r["rows"]:,} rows
            ({r["copies"]} copies of the CSV), checkpoints every 1 s, write_file rolling every
            100,000 records. SIGKILL at a random moment after the first checkpoint; then the
            server is started again and timed from the spawn of its process (median of the
            trials): the API answers (interpreter, imports, journal read, the run relaunched
            from its checkpoint: read_file skips the rows of its current file the checkpoint
            covers), the first record reaches the sink, the first new output file is
            published. exactly_once publishes at checkpoints only, so its first new file
            waits for the first checkpoint after the restart (the 1 s interval)."""
        )
        lines += ["", *recovery_lines(r)]
    return "\n".join(lines) + "\n"


def write_results(text: str) -> None:
    """Replace this benchmark's section of RESULTS.md (or append it); others' are kept."""
    path = HERE / "RESULTS.md"
    current = path.read_text() if path.exists() else ""
    start = current.find(SECTION)
    if start >= 0:
        end = current.find("\n## ", start + len(SECTION))
        current = current[:start] + (current[end + 1 :] if end >= 0 else "")
    path.write_text(current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n")


def main() -> None:
    if len(sys.argv) == 7 and sys.argv[1] == "--child":
        _, _, delivery, interval, csv, out, data = sys.argv
        print(json.dumps(child(delivery, float(interval), Path(csv), Path(out), Path(data))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the CSV")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each variant")
    parser.add_argument("--trials", type=int, default=5, help="kills per delivery mode")
    parser.add_argument(
        "--copies-list",
        default="1,10",
        help="throughput inputs, as copies of the CSV: 1 is the file flow's 2M rows; more make"
        " runs long enough for periodic checkpoints",
    )
    parser.add_argument("--copies", type=int, default=20, help="CSV copies the long flow reads")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--no-recovery", action="store_true")
    parser.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the generated CSV")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    m = file_flow.machine()
    print(f"{m['cores']} cores, {m['cpu']}; load average {m['load']:.1f}", flush=True)
    t: list[dict[str, Any]] = []
    r = None
    try:
        if not args.no_throughput:
            for copies in (int(c) for c in args.copies_list.split(",") if c.strip()):
                t.append(throughput(args.rows, copies, args.rounds))
            print("\n".join(throughput_lines(t)), flush=True)
        if not args.no_recovery:
            r = recovery(args.rows, args.copies, args.trials, args.seed)
            print("\n".join(recovery_lines(r)), flush=True)
    finally:
        if not args.keep:
            (OUT / f"orders-{args.rows}.csv").unlink(missing_ok=True)
        for name in ("ckpt-in", "ckpt-out", "ckpt-data", "ckpt-recovery"):
            shutil.rmtree(OUT / name, ignore_errors=True)
    if not args.no_results:
        write_results(section(t, r, m, args.rounds))
        print(f"\nwrote {(HERE / 'RESULTS.md').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
