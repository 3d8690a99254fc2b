"""CSV -> filter -> select -> JSON lines through the engine, beside one DuckDB COPY doing it.

The flow: read_file (orders CSV) -> filter (`status = 'paid' AND amount > 100`) -> select
(order_id, upper(country), amount_eur = round(amount * 0.92, 2), ts) -> write_file (JSON
lines), run through FlowRun. The baseline is a single DuckDB `COPY (SELECT ... WHERE ...) TO
'...' (FORMAT json)` over the same file. Every variant runs in a subprocess of its own, so
its peak RSS is its own; rounds alternate engine and DuckDB, so both see the same machine
(a shared one is noisy: the best round of each is compared). The outputs are checked to be
the same records before any figure is printed.

Run: .venv/bin/python benchmarks/file_flow.py [--rows 2000000] [--rows-list 2000000,8000000]
     [--rounds 5] [--before REV] [--keep] [--no-cli] [--no-results]
`--before REV` also runs the engine as of git revision REV (its backend/dataflow and
processors/, extracted with `git archive` under benchmarks/out/, put first on PYTHONPATH)
for a before/after comparison; REV may also be a directory holding such a source tree.
Data and outputs go to benchmarks/out/ (git-ignored); figures to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
CONDITION = "status = 'paid' AND amount > 100"
#: The select of flowfiles/orders-to-jsonl.json; the DuckDB baseline spells out the same.
COLUMNS = [
    {"name": "order_id"},
    {"name": "country", "expr": "upper(country)"},
    {"name": "amount_eur", "expr": "round(amount * 0.92, 2)"},
    {"name": "ts"},
]
DUCKDB_SQL = (
    "COPY (SELECT order_id, upper(country) AS country, round(amount * 0.92, 2) AS amount_eur,"
    " ts FROM read_csv('{csv}') WHERE {condition}) TO '{out}' (FORMAT json)"
)


def flow_document(csv: Path, out_dir: Path) -> dict[str, Any]:
    """The benchmarked flow as flow JSON (also what `dataflow run` gets)."""
    return {
        "name": "benchmark: orders CSV to JSON lines",
        "nodes": [
            {"id": "orders", "type": "read_file", "config": {"path": str(csv)}},
            {"id": "paid", "type": "filter", "config": {"condition": CONDITION}},
            {"id": "price", "type": "select", "config": {"columns": COLUMNS}},
            {"id": "out", "type": "write_file", "config": {"directory": str(out_dir)}},
        ],
        "edges": [
            {"id": "e1", "source": "orders", "target": "paid"},
            {"id": "e2", "source": "paid", "source_port": "matched", "target": "price"},
            {"id": "e3", "source": "price", "target": "out"},
        ],
    }


# -- variants: each runs in a child process and prints one JSON line -----------------------
def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads: unlike wall time, it hardly
    moves when other processes share the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def variant_engine(csv: Path, out: Path) -> dict[str, Any]:
    from dataflow.model import convert_flow
    from dataflow.processor import Registry
    from dataflow.runtime import FlowRun, RunContext
    from dataflow_processors.filter import Filter
    from dataflow_processors.read_file import ReadFile
    from dataflow_processors.select import Select
    from dataflow_processors.write_file import WriteFile

    # A registry is a value: just the four processors the flow uses.
    registry = Registry([ReadFile, Filter, Select, WriteFile])
    flow = convert_flow(flow_document(csv, out))

    async def go() -> tuple[float, float, Any]:
        run = FlowRun.of(flow, registry, context=RunContext(run_id="bench"))
        started, cpu = time.perf_counter(), cpu_seconds()
        await run.start()
        outcome = await run.wait()
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        if outcome.state != "completed":
            raise SystemExit(f"engine run {outcome.state}: {outcome.error}")
        return elapsed, cpu, run.metrics()

    elapsed, cpu, metrics = asyncio.run(go())
    return {
        "seconds": elapsed,
        "cpu_s": cpu,
        "busy": {n: round(m.busy_seconds, 3) for n, m in metrics.nodes.items()},
        "backpressure": {e: round(m.backpressure_seconds, 3) for e, m in metrics.edges.items()},
    }


def variant_duckdb(csv: Path, out: Path) -> dict[str, Any]:
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    started, cpu = time.perf_counter(), cpu_seconds()
    con = duckdb.connect()  # all cores, as DuckDB runs by default
    con.execute(DUCKDB_SQL.format(csv=csv, condition=CONDITION, out=out / "part-duckdb.jsonl"))
    con.close()
    return {"seconds": time.perf_counter() - started, "cpu_s": cpu_seconds() - cpu}


#: Child entry points; "before" is the engine again, imported from --before's directory.
VARIANTS = {"engine": variant_engine, "duckdb": variant_duckdb, "before": variant_engine}
LABELS = {"engine": "engine", "duckdb": "DuckDB", "before": "engine before"}


def child_main(name: str, csv: Path, out: Path) -> None:
    result = VARIANTS[name](csv, out)
    result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


# -- the parent: data, rounds, checks, report ----------------------------------------------
def run_child(args: list[str], env: dict[str, str] | None = None) -> tuple[Any, float]:
    """Run a child process: (the last JSON line it printed, or None; its wall seconds)."""
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, cwd=ROOT, env=env, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr.decode()[-3000:]}")
    lines = [ln for ln in proc.stdout.decode().splitlines() if ln.startswith("{")]
    return (json.loads(lines[-1]) if lines else None), wall


def run_variant(name: str, csv: Path, out: Path, before: Path | None) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    env = None
    if name == "before":
        assert before is not None
        env = {**os.environ, "PYTHONPATH": str(before)}
    result, _ = run_child([sys.executable, __file__, "--child", name, str(csv), str(out)], env)
    assert result is not None
    return result


def run_cli(csv: Path, out: Path) -> float:
    """Wall time of `dataflow run FLOW --quiet`, interpreter start and imports included."""
    shutil.rmtree(out, ignore_errors=True)
    flow_file = OUT / "file_flow.json"
    flow_file.write_text(json.dumps(flow_document(csv, out), indent=2))
    cli = Path(sys.executable).with_name("dataflow")
    _, wall = run_child([str(cli), "run", str(flow_file), "--quiet"])
    return wall


def summarize(out: Path) -> dict[str, Any]:
    """What the outputs hold: record count, sums, and a digest of the bytes."""
    import hashlib

    import duckdb

    files = sorted(p for p in out.iterdir() if p.suffix == ".jsonl")
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    con = duckdb.connect()
    count, amount, ids, countries = con.execute(
        "SELECT count(*), sum(amount_eur), sum(order_id), count(DISTINCT country)"
        " FROM read_json(?, format = 'newline_delimited')",
        [[str(p) for p in files]],
    ).fetchone()
    con.close()
    return {
        "records": count,
        "sum_amount_eur": amount,
        "sum_order_id": ids,
        "countries": countries,
        "sha256": digest.hexdigest(),
    }


def check_same(name: str, got: dict[str, Any], duck: dict[str, Any]) -> str:
    """Fail unless `name` wrote DuckDB's records; say whether the bytes are identical too."""
    for key in ("records", "sum_order_id", "countries"):
        if got[key] != duck[key]:
            sys.exit(f"outputs differ: {key} {name}={got[key]} duckdb={duck[key]}")
    # Both round to cents: the sums of 600k values may differ in the last float bits only.
    if abs(got["sum_amount_eur"] - duck["sum_amount_eur"]) > 1e-6 * abs(duck["sum_amount_eur"]):
        sys.exit(f"outputs differ: sum(amount_eur) {name}={got} duckdb={duck}")
    return "byte-identical" if got["sha256"] == duck["sha256"] else "same records, other bytes"


def packages_at(rev: str) -> tuple[Path, str]:
    """A directory to put on PYTHONPATH to import `dataflow` and `dataflow_processors` as
    they were at git revision `rev` (or in the source tree at path `rev`), and its name."""
    tree = Path(rev)
    label = str(tree.resolve())
    if not (tree / "backend" / "dataflow").is_dir():
        sha = subprocess.run(
            ["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, check=True
        )
        label = sha.stdout.decode().strip()
        tree = OUT / f"tree-{label}"
        if not tree.exists():
            tree.mkdir(parents=True)
            archive = subprocess.run(
                ["git", "archive", rev, "backend/dataflow", "processors"],
                cwd=ROOT,
                capture_output=True,
                check=True,
            )
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    packages = tree.resolve() / "packages"
    packages.mkdir(exist_ok=True)
    # The import names differ from the folder names, as pyproject's package-dir maps them.
    for name, folder in (("dataflow", "backend/dataflow"), ("dataflow_processors", "processors")):
        link = packages / name
        if not link.exists():
            link.symlink_to(tree.resolve() / folder, target_is_directory=True)
    return packages, label


def make_data(rows: int) -> Path:
    csv = OUT / f"orders-{rows}.csv"
    if csv.exists():  # deterministic: a file of that name holds exactly these rows
        return csv
    spec = importlib.util.spec_from_file_location(
        "make_orders", ROOT / "flowfiles" / "data" / "make_orders.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print(f"generating {rows:,} orders -> {csv.relative_to(ROOT)}", flush=True)
    module.write_orders(rows, csv)
    return csv


def measure(rows: int, rounds: int, cli: bool, before: Path | None) -> dict[str, Any]:
    csv = make_data(rows)
    names = ["engine", "duckdb"] + (["before"] if before else [])
    outs = {name: OUT / f"out-{name}-{rows}" for name in names}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:  # alternate, so a busy moment on the machine hits every variant
            results[name].append(run_variant(name, csv, outs[name], before))
    duck = summarize(outs["duckdb"])
    verdicts = {name: check_same(name, summarize(outs[name]), duck) for name in names}
    verdicts["duckdb"] = "reference"
    row: dict[str, Any] = {"rows": rows, "outputs": verdicts, "variants": {}}
    for name, runs in results.items():
        seconds = [r["seconds"] for r in runs]
        best = min(runs, key=lambda r: r["seconds"])
        row["variants"][name] = {
            "best_s": best["seconds"],
            "median_s": statistics.median(seconds),
            "rows_per_s": rows / best["seconds"],
            "cpu_s": statistics.median(r["cpu_s"] for r in runs),
            "maxrss_mb": max(r["maxrss_mb"] for r in runs),
            "busy": best.get("busy", {}),
        }
    v = row["variants"]
    row["ratio"] = v["engine"]["rows_per_s"] / v["duckdb"]["rows_per_s"]
    row["cli_s"] = run_cli(csv, OUT / f"out-cli-{rows}") if cli else None
    return row


def overhead(before: Path | None) -> dict[str, Any]:
    """Per-batch overhead, from benchmarks/engine_overhead.py (1-row batches, 3 nodes)."""
    script = [sys.executable, str(HERE / "engine_overhead.py"), "--json"]
    result, _ = run_child(script)
    if before:
        env = {**os.environ, "PYTHONPATH": str(before)}
        result["before_batches_per_s"] = run_child(script, env)[0]["batches_per_s"]
    return result


def machine() -> dict[str, Any]:
    import duckdb
    import pyarrow

    model = ""
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    return {
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "pyarrow": pyarrow.__version__,
        "duckdb": duckdb.__version__,
        "load": os.getloadavg()[0],
        "date": datetime.date.today().isoformat(),
    }


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The figures as a Markdown table (printed as is, and written to RESULTS.md)."""
    lines = [
        "| input rows | variant | seconds | rows/s | CPU seconds | peak RSS | rows/s vs DuckDB"
        " | output |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        duck = r["variants"]["duckdb"]["rows_per_s"]
        for name, v in r["variants"].items():
            lines.append(
                f"| {r['rows']:,} | {LABELS[name]} | {v['best_s']:.2f} | {v['rows_per_s']:,.0f}"
                f" | {v['cpu_s']:.2f} | {v['maxrss_mb']:.0f} MiB | {v['rows_per_s'] / duck:.2f}"
                f" | {r['outputs'][name]} |"
            )
    return lines


def overhead_line(over: dict[str, Any]) -> str:
    line = (
        f"{over['batches']:,} one-row batches through source -> no-op transform -> sink:"
        f" **{over['batches_per_s']:,.0f} batches/s** ({over['us_per_batch']:.0f} us per"
        f" batch through 3 nodes; a plain loop making the same two worker-thread calls per"
        f" batch: {over['plain_batches_per_s']:,.0f} batches/s)"
    )
    if "before_batches_per_s" in over:
        line += f"; engine before: {over['before_batches_per_s']:,.0f} batches/s"
    return line + "."


def notes(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        busy = ", ".join(f"{n} {s:.2f}s" for n, s in r["variants"]["engine"]["busy"].items())
        out.append(f"- {r['rows']:,} rows, engine busy time per node (best round): {busy}.")
        if r["cli_s"] is not None:
            out.append(
                f"- {r['rows']:,} rows, `dataflow run` (whole command: interpreter start,"
                f" imports of every installed processor, validation): {r['cli_s']:.2f} s wall."
            )
    return out


def write_results(
    path: Path, rows: list[dict[str, Any]], over: dict[str, Any], m: dict, before: str | None
) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `benchmarks/file_flow.py` on {m['date']}: {m['cores']} cores ({m['cpu']}),",
        f"Python {m['python']}, pyarrow {m['pyarrow']}, DuckDB {m['duckdb']}; load average"
        f" {m['load']:.1f} when it started.",
        f"The machine is shared, so each variant's best of {m['rounds']} rounds is shown"
        " (seconds, rows/s)",
        "beside its median CPU time, which other load hardly moves.",
        "",
        "## CSV -> filter -> select -> JSON lines",
        "",
        "The engine runs read_file -> filter -> select -> write_file with default configs;",
        "DuckDB runs the same work as one `COPY (SELECT ...) TO` on all cores. Rows/s count input",
        "rows; peak RSS is each variant's own process (interpreter and imports included); the",
        "output column compares each variant's JSON lines with DuckDB's.",
        *(
            [f"`engine before` is the engine as of `{before}` (`--before`), for comparison."]
            if before
            else []
        ),
        "",
        *table(rows),
        "",
        *notes(rows),
        "",
        "## Per-batch overhead",
        "",
        f"`benchmarks/engine_overhead.py`: {overhead_line(over)}",
        "",
    ]
    path.write_text("\n".join(lines) + other_sections(path))


OWN_SECTIONS = ("## CSV -> filter -> select -> JSON lines", "## Per-batch overhead")


def other_sections(path: Path) -> str:
    """The sections of RESULTS.md written by other benchmarks (checkpoints.py...): kept."""
    if not path.exists():
        return ""
    parts = path.read_text().split("\n## ")[1:]
    kept = [f"## {part}" for part in parts if not f"## {part}".startswith(OWN_SECTIONS)]
    return "".join(f"\n{section.rstrip()}\n" for section in kept)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child_main(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="input rows")
    parser.add_argument(
        "--rows-list",
        default="",
        help="comma-separated sizes to run too, e.g. 2000000,8000000 (peak RSS must not grow)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="runs of each variant per size")
    parser.add_argument(
        "--before", metavar="REV", help="also run the engine as of this git revision (or tree)"
    )
    parser.add_argument("--keep", action="store_true", help="keep generated CSVs and outputs")
    parser.add_argument("--no-cli", action="store_true", help="skip timing `dataflow run`")
    parser.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    before, before_label = packages_at(args.before) if args.before else (None, None)

    OUT.mkdir(parents=True, exist_ok=True)
    sizes = sorted({args.rows, *(int(n) for n in args.rows_list.split(",") if n.strip())})
    m = machine()
    print(f"{m['cores']} cores, {m['cpu']}; load average {m['load']:.1f}", flush=True)
    rows = []
    for size in sizes:
        cli = not args.no_cli and size == args.rows
        rows.append(measure(size, args.rounds, cli, before))
        print(f"  {size:,} rows done", flush=True)
    over = overhead(before)
    print()
    print("\n".join(table(rows)))
    print("\n".join(notes(rows)))
    print(f"engine per-batch overhead: {overhead_line(over)}")
    if not args.no_results:
        write_results(HERE / "RESULTS.md", rows, over, {**m, "rounds": args.rounds}, before_label)
        print(f"\nwrote {(HERE / 'RESULTS.md').relative_to(ROOT)}")
    if not args.keep:
        for size in sizes:
            (OUT / f"orders-{size}.csv").unlink(missing_ok=True)
            for name in (*VARIANTS, "cli"):
                shutil.rmtree(OUT / f"out-{name}-{size}", ignore_errors=True)
        (OUT / "file_flow.json").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
