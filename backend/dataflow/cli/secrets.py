"""`dataflow secrets rotate-key`: re-encrypt every secret of a data directory with a new key."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from dataflow.secrets import KEY_ENV, KEY_FILE_ENV, SecretError, SecretStore, key_file


def _write_key(path: Path, key: bytes) -> None:
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _rotate(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    try:
        store = SecretStore.open(data_dir)
    except SecretError as exc:
        print(f"cannot open the secrets of {data_dir}: {exc}", file=sys.stderr)
        return 1
    target = Path(args.new_key_file) if args.new_key_file else None
    if target is not None and target.exists():
        new_key = target.read_bytes().strip()
    else:
        new_key = Fernet.generate_key()
    from_env = bool(os.environ.get(KEY_ENV))
    if target is None and not from_env:
        target = key_file(data_dir)  # the key file in use is replaced
    if target is not None:
        # The new key is on disk before any secret depends on it.
        staged = target.with_name(target.name + ".rotating")
        _write_key(staged, new_key)
    try:
        count = store.rotate(new_key)
    except SecretError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if target is not None:
        os.replace(staged, target)
        print(f"re-encrypted {count} secret(s); the key is now in {target}", file=sys.stderr)
        if os.environ.get(KEY_FILE_ENV) and Path(os.environ[KEY_FILE_ENV]) != target:
            print(f"point {KEY_FILE_ENV} at {target} before the next start", file=sys.stderr)
    else:
        print(new_key.decode())
        print(
            f"re-encrypted {count} secret(s): set {KEY_ENV} to the key above before the next "
            "start (it is shown only here)",
            file=sys.stderr,
        )
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("secrets", help="manage the secrets of a data directory")
    actions = p.add_subparsers(dest="action", required=True)
    rotate = actions.add_parser(
        "rotate-key", help="re-encrypt every secret with a new key (stop the server first)"
    )
    rotate.add_argument("--data-dir", default="./data")
    rotate.add_argument(
        "--new-key-file", help="read the new key from (or write a new one to) this file"
    )
    rotate.set_defaults(func=_rotate)
