"""Start the real `dataflow serve` process on a free port: for tests that need a server."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.auth import auth_env, token_for

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    data_dir: Path
    port: int = field(default_factory=free_port)
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    #: An admin API token, signed in through the API once the server answers.
    token: str = ""
    #: With --tls-cert/--tls-key in args: "https", and `verify` the CA (or cert) to trust.
    scheme: str = "http"
    verify: ssl.SSLContext | bool = True

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        """Credentials for every call: {"Authorization": "Bearer <admin token>"}."""
        return {"Authorization": f"Bearer {self.token}"}

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client on the server, signed in as admin."""
        return httpx.Client(base_url=self.url, headers=self.headers, verify=self.verify, **kwargs)

    def start(self, timeout: float = 30) -> ServerProcess:
        # The child writes to its own copy of the descriptor: ours is closed at once.
        with open(self.data_dir.parent / f"server-{self.port}.log", "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dataflow.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    "--log-level",
                    "warning",
                    *self.args,
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **auth_env(), **self.env},
            )
        try:
            return self._wait_until_signed_in(timeout)
        except BaseException:
            # Whatever failed (a sign-in refused, a warning turned error), no server is left.
            self.stop(signal.SIGKILL, timeout=10)
            raise

    def _wait_until_signed_in(self, timeout: float) -> ServerProcess:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_text()}")
            try:
                health = httpx.get(f"{self.url}/health", timeout=1, verify=self.verify)
                if health.status_code == 200:
                    # The same data directory keeps its users: sign in again on restarts.
                    with httpx.Client(
                        base_url=self.url, timeout=10, verify=self.verify
                    ) as anonymous:
                        self.token = token_for(anonymous)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {timeout}s: {self.log_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def log_text(self) -> str:
        path = self.data_dir.parent / f"server-{self.port}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""
