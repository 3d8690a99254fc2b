"""The secrets' key can live outside the data directory, and can be rotated."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from dataflow.secrets import SecretError, SecretStore
from tests.server import ROOT


def dataflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATAFLOW_SECRET")}
    return subprocess.run(
        [sys.executable, "-m", "dataflow.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
    )


def test_a_key_file_outside_the_data_directory_is_used_and_never_copied_in(tmp_path, monkeypatch):
    key = tmp_path / "keys" / "dataflow.key"
    key.parent.mkdir()
    key.write_bytes(Fernet.generate_key())
    monkeypatch.delenv("DATAFLOW_SECRET_KEY", raising=False)
    monkeypatch.setenv("DATAFLOW_SECRET_KEY_FILE", str(key))
    data = tmp_path / "data"
    SecretStore.open(data).put("db", "hunter2")
    assert not (data / "secret.key").exists()
    assert b"hunter2" not in (data / "secrets.json").read_bytes()
    assert SecretStore.open(data).value("db") == "hunter2"
    monkeypatch.setenv("DATAFLOW_SECRET_KEY_FILE", str(tmp_path / "missing.key"))
    with pytest.raises(SecretError, match=r"missing\.key"):
        SecretStore.open(data)


def test_rotate_key_re_encrypts_every_secret_with_the_new_key_file(tmp_path, monkeypatch):
    data = tmp_path / "data"
    old_key = tmp_path / "old.key"
    old_key.write_bytes(Fernet.generate_key())
    env = {"DATAFLOW_SECRET_KEY_FILE": str(old_key)}
    monkeypatch.delenv("DATAFLOW_SECRET_KEY", raising=False)
    monkeypatch.setenv("DATAFLOW_SECRET_KEY_FILE", str(old_key))
    store = SecretStore.open(data)
    store.put("a", "first value")
    store.put("b", "second value")
    token_before = (data / "secrets.json").read_bytes()
    new_key = tmp_path / "new.key"
    result = dataflow(
        "secrets", "rotate-key", "--data-dir", str(data), "--new-key-file", str(new_key), env=env
    )
    assert result.returncode == 0, result.stderr
    assert "re-encrypted 2 secret(s)" in result.stderr
    assert oct(new_key.stat().st_mode & 0o777) == "0o600"
    assert (data / "secrets.json").read_bytes() != token_before
    rotated = SecretStore(data / "secrets.json", new_key.read_bytes().strip())
    assert (rotated.value("a"), rotated.value("b")) == ("first value", "second value")
    stale = SecretStore(data / "secrets.json", old_key.read_bytes().strip())
    with pytest.raises(SecretError, match="cannot be decrypted"):
        stale.value("a")


def test_rotate_key_with_the_key_in_the_environment_prints_the_new_one(tmp_path):
    data = tmp_path / "data"
    old = Fernet.generate_key()
    SecretStore(data / "secrets.json", old).put("a", "value")
    result = dataflow(
        "secrets", "rotate-key", "--data-dir", str(data), env={"DATAFLOW_SECRET_KEY": old.decode()}
    )
    assert result.returncode == 0, result.stderr
    new = result.stdout.strip().encode()
    assert new != old and "set DATAFLOW_SECRET_KEY" in result.stderr
    assert SecretStore(data / "secrets.json", new).value("a") == "value"


def test_masking_follows_a_changed_or_deleted_value(tmp_path):
    store = SecretStore(tmp_path / "secrets.json", Fernet.generate_key())
    store.put("token", "first-value")
    assert store.mask("sent first-value") == "sent ***"
    store.put("token", "second-value")
    assert store.mask("first-value then second-value") == "first-value then ***"
    store.delete("token")
    assert store.mask("second-value") == "second-value"
