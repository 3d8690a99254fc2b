"""First start: with no user yet, an `admin` is created (NiFi's single-user mode does the
same); its generated password is printed once and written to a file only root can read."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dataflow.security.access import AccessStore
from dataflow.security.passwords import random_password

log = logging.getLogger(__name__)

ADMIN_NAME = "admin"
PASSWORD_FILE = "admin-password.txt"
PASSWORD_ENV = "DATAFLOW_ADMIN_PASSWORD"


async def ensure_admin(store: AccessStore, data_dir: Path, password: str | None) -> Path | None:
    """Create `admin` when there is no user. With `password` (DATAFLOW_ADMIN_PASSWORD) it is
    set to that; otherwise a random one is written to DATA_DIR/admin-password.txt (mode
    0600) and printed. Returns the file written, if any."""
    await store.load()
    if store.has_users():
        return None
    generated = password is None
    secret = random_password() if password is None else password
    await store.create_user(ADMIN_NAME, secret, "admin")
    if not generated:
        log.warning("created user %r with the password from %s", ADMIN_NAME, PASSWORD_ENV)
        return None
    path = data_dir / PASSWORD_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secret + "\n")
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT
    banner = (
        f"\n  First start: created user {ADMIN_NAME!r} with password {secret}\n"
        f"  (also in {path}, readable only by this account; change it after signing in)\n"
    )
    print(banner, flush=True)
    return path
