"""What authentication costs a request: `GET /api/v1/flows` latency on a real server.

Each round starts `dataflow serve` (a whole process, on a fresh data directory), creates
`--flows` flows, then sends `--requests` GETs one after another over one keep-alive
connection, as a dashboard or script polling the list would, and takes p50, p99 and max.
With `--tree` pointing at another checkout (its own .venv), rounds alternate between that
tree and this one, so both are measured on the same machine at the same time: the way to
compare a build without authentication against one with it. A server that answers 401 is
signed into first (DATAFLOW_ADMIN_PASSWORD, the real Argon2 cost: sign-in is not timed, the
requests are, each carrying the bearer token).

Run: .venv/bin/python benchmarks/api_latency.py [--tree ../other-checkout] [--rounds 3]
     [--flows 50] [--requests 2000]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark-admin-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def flow(i: int) -> dict[str, object]:
    return {
        "id": f"bench-{i}",
        "name": f"Bench {i}",
        "nodes": [
            {
                "id": "gen",
                "type": "generate",
                "config": {"count": 10, "columns": [{"name": "n", "kind": "sequence"}]},
            },
            {"id": "out", "type": "console", "config": {}},
        ],
        "edges": [{"id": "e", "source": "gen", "target": "out"}],
    }


def measure(tree: Path, flows: int, requests: int) -> dict[str, float]:
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="api-latency-"))
    env = {**os.environ, "DATAFLOW_ADMIN_PASSWORD": PASSWORD}
    server = subprocess.Popen(
        [str(tree / ".venv/bin/python"), "-m", "dataflow.cli", "serve", "--port", str(port),
         "--data-dir", str(data), "--log-level", "warning"],
        cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=30) as client:
            if client.get("/api/v1/flows").status_code == 401:
                login = client.post(
                    "/api/v1/auth/login",
                    json={"name": "admin", "password": PASSWORD, "token_name": "bench"},
                )
                client.headers["Authorization"] = f"Bearer {login.json()['token']}"
            for i in range(flows):
                assert client.post("/api/v1/flows", json=flow(i)).status_code == 201
            for _ in range(50):  # warm up
                client.get("/api/v1/flows")
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                reply = client.get("/api/v1/flows")
                times.append(time.perf_counter() - started)
                assert reply.status_code == 200 and len(reply.json()) == flows
        times.sort()
        return {
            "p50_ms": statistics.median(times) * 1000,
            "p99_ms": times[int(len(times) * 0.99) - 1] * 1000,
            "max_ms": times[-1] * 1000,
        }
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tree", type=Path, help="another checkout to compare with (its .venv)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--flows", type=int, default=50)
    p.add_argument("--requests", type=int, default=2000)
    args = p.parse_args()
    trees = {"this tree": ROOT}
    if args.tree:
        trees = {"other tree": args.tree.resolve(), **trees}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            results[name].append(measure(tree, args.flows, args.requests))
    load = os.getloadavg()[0]
    print(f"GET /api/v1/flows, {args.flows} flows, {args.requests} requests per round, "
          f"median of {args.rounds} rounds; load average {load:.1f}")  # fmt: skip
    summary = {}
    for name, rounds in results.items():
        summary[name] = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        row = summary[name]
        print(f"  {name:<10} p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms  "
              f"max {row['max_ms']:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
