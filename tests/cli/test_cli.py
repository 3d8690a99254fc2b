"""The `dataflow` command: validate, import and export against a real server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from dataflow.model import convert_flow, export_flow
from tests.api.conftest import orders_flow
from tests.auth import ADMIN_PASSWORD
from tests.server import ROOT, ServerProcess


def dataflow(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dataflow.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
        env={**os.environ, **(env or {})},
    )


def test_validate_prints_every_error_with_its_path_and_exits_1(tmp_path):
    doc = orders_flow()
    doc["nodes"][1]["config"]["condition"] = "amout > 1"
    doc["nodes"][0]["config"]["batch_size"] = "many"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    result = dataflow("validate", str(path))
    assert result.returncode == 1
    assert f"{path}: error: nodes[0].config.batch_size:" in result.stdout
    assert "[invalid_config]" in result.stdout


def test_validate_accepts_the_example_flows():
    files = sorted(str(p) for p in (ROOT / "flowfiles").glob("*.json"))
    assert len(files) >= 3
    result = dataflow("validate", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": valid") == len(files)


def test_validate_missing_file_exits_1(tmp_path):
    result = dataflow("validate", str(tmp_path / "nope.json"))
    assert result.returncode == 1
    assert "No such file" in result.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("cli") / "data")
    yield proc.start()
    proc.stop()


def test_import_then_export_gives_the_same_document(server, tmp_path):
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(orders_flow(id="cli-orders")))
    result = dataflow("import", str(path), "--url", server.url, "--token", server.token)
    assert result.returncode == 0, result.stderr
    assert "as flow cli-orders" in result.stdout
    out = tmp_path / "out.json"
    result = dataflow(
        "export", "cli-orders", "-o", str(out), "--url", server.url, "--token", server.token
    )
    assert result.returncode == 0, result.stderr
    # The export is the canonical form of what was imported (defaults filled in, sorted).
    assert out.read_bytes() == export_flow(convert_flow(json.loads(path.read_text())))


def test_import_of_an_invalid_file_prints_the_errors(server, tmp_path):
    doc = orders_flow(id="broken")
    doc["edges"] = []
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    result = dataflow("import", str(path), "--url", server.url, "--token", server.token)
    assert result.returncode == 1
    assert "HTTP 422" in result.stderr and "input_not_connected" not in result.stdout
    assert "nodes[1]: node 'paid': input port 'in' is not connected" in result.stderr


def test_export_of_unknown_flow_fails_clearly(server):
    result = dataflow("export", "nope", "--url", server.url, "--token", server.token)
    assert result.returncode == 1
    assert "HTTP 404" in result.stderr


def test_commands_against_a_dead_server_fail_clearly(tmp_path):
    result = dataflow("export", "x", "--url", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert "cannot reach the server at http://127.0.0.1:9" in result.stderr
    assert "--url" in result.stderr


def test_login_keeps_a_token_only_its_owner_reads_and_logout_revokes_it(server, tmp_path):
    env = {"DATAFLOW_CONFIG_DIR": str(tmp_path / "config")}
    unsigned = dataflow("export", "x", "--url", server.url, env=env)
    assert unsigned.returncode == 1 and "dataflow login --url" in unsigned.stderr
    login = dataflow(
        "login", "--url", server.url, "--user", "admin", "--password-stdin",
        env=env, stdin=ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    assert "as admin (admin)" in login.stdout
    stored = tmp_path / "config" / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert ADMIN_PASSWORD not in stored.read_text()
    path = tmp_path / "f.json"
    path.write_text(json.dumps(orders_flow(id="via-login")))
    assert dataflow("import", str(path), "--url", server.url, env=env).returncode == 0
    token = json.loads(stored.read_text())[server.url]
    assert dataflow("logout", "--url", server.url, env=env).returncode == 0
    again = dataflow("export", "via-login", "--url", server.url, "--token", token, env=env)
    assert again.returncode == 1 and "HTTP 401" in again.stderr  # revoked on the server
    wrong = dataflow(
        "login", "--url", server.url, "--user", "admin", "--password-stdin",
        env=env, stdin="wrong password\n",
    )  # fmt: skip
    assert wrong.returncode == 1 and "wrong user name or password" in wrong.stderr


def test_admins_manage_users_and_tokens_from_the_command_line(server, tmp_path):
    env = {"DATAFLOW_TOKEN": server.token, "DATAFLOW_CONFIG_DIR": str(tmp_path)}
    add = dataflow(
        "users", "add", "carol", "--role", "operator", "--password-stdin", "--url", server.url,
        env=env, stdin="carol's password\n",
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    listed = dataflow("users", "list", "--url", server.url, env=env)
    assert "carol" in listed.stdout and "operator" in listed.stdout
    made = dataflow("tokens", "create", "ci", "--role", "viewer", "--url", server.url, env=env)
    assert made.returncode == 0, made.stderr
    value = made.stdout.strip()
    assert value.startswith("dft_") and "shown this once" in made.stderr
    viewer = {"DATAFLOW_TOKEN": value, "DATAFLOW_CONFIG_DIR": str(tmp_path)}
    refused = dataflow("users", "list", "--url", server.url, env=viewer)
    assert refused.returncode == 1 and "HTTP 403" in refused.stderr
    token_id = value.split("_")[1]
    assert token_id in dataflow("tokens", "list", "--url", server.url, env=env).stdout
    assert dataflow("tokens", "revoke", token_id, "--url", server.url, env=env).returncode == 0
    assert dataflow("users", "delete", "carol", "--url", server.url, env=env).returncode == 0
