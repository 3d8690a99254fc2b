"""Named secrets: values encrypted at rest, referenced from flows as {"secret": "NAME"}.

A flow document never holds a password: a config field declared with `ui(secret=True)`
holds a reference, and the value is put in only when a run starts. The journal is
append-only, so a value that reached it could never be erased: clear values are refused.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, quote_plus

import msgspec
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from dataflow.processor import Registry
from dataflow.processor.catalog import config_schema

log = logging.getLogger(__name__)

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
_NAME = re.compile(NAME_PATTERN)
KEY_ENV = "DATAFLOW_SECRET_KEY"
KEY_FILE_ENV = "DATAFLOW_SECRET_KEY_FILE"


class Secrets(Protocol):
    """Where secret values come from: the server's store, or the environment for the CLI."""

    def __contains__(self, name: object) -> bool: ...

    def value(self, name: str) -> str: ...


def resolve_config(config: dict[str, Any], secrets: Secrets) -> dict[str, Any]:
    return substitute(config, secrets.value)


class SecretRef(msgspec.Struct, forbid_unknown_fields=True):
    """How a flow refers to a secret."""

    secret: str


class SecretInfo(msgspec.Struct, kw_only=True):
    name: str
    created_at: float
    updated_at: float


class _Entry(msgspec.Struct, kw_only=True):
    token: str
    created_at: float
    updated_at: float


class SecretError(Exception):
    pass


class SecretNotFound(SecretError):
    def __init__(self, name: str):
        super().__init__(f"no secret named {name!r}: create it with PUT /api/v1/secrets/{name}")
        self.name = name


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secret"} and isinstance(value["secret"], str)


def secret_fields(registry: Registry, type_name: str) -> frozenset[str]:
    """Top-level config fields a processor declares as secrets (ui(secret=True))."""
    cls = registry.get(type_name)
    if cls is None:
        return frozenset()
    return _secret_fields(cls)  # type: ignore[arg-type]  # mypy: a class is Hashable


@functools.cache
def _secret_fields(cls: type) -> frozenset[str]:
    _, hints = config_schema(cls)
    return frozenset(name for name, h in hints.items() if h.get("x-secret"))


def find_refs(config: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (path, secret name) referenced anywhere in a config."""
    if is_ref(config):
        yield path, config["secret"]
    elif isinstance(config, dict):
        for key, value in config.items():
            yield from find_refs(value, f"{path}.{key}" if path else key)
    elif isinstance(config, list):
        for i, value in enumerate(config):
            yield from find_refs(value, f"{path}[{i}]")


def substitute(config: Any, lookup: Callable[[str], Any]) -> Any:
    """The config with every reference replaced by lookup(name)."""
    if is_ref(config):
        return lookup(config["secret"])
    if isinstance(config, dict):
        return {k: substitute(v, lookup) for k, v in config.items()}
    if isinstance(config, list):
        return [substitute(v, lookup) for v in config]
    return config


def key_file(data_dir: Path) -> Path:
    """Where the key is read from when DATAFLOW_SECRET_KEY is not set: DATAFLOW_SECRET_KEY_FILE
    (keep it outside the data directory, so a copy of that directory is not enough to read
    the secrets), else DATA_DIR/secret.key."""
    configured = os.environ.get(KEY_FILE_ENV)
    return Path(configured) if configured else data_dir / "secret.key"


def load_key(data_dir: Path) -> bytes:
    """The Fernet key: DATAFLOW_SECRET_KEY, else the key file (DATAFLOW_SECRET_KEY_FILE, else
    one made once in the data directory: convenient on one machine, not for production)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode()
    path = key_file(data_dir)
    if os.environ.get(KEY_FILE_ENV):
        try:
            return path.read_bytes().strip()
        except OSError as exc:
            raise SecretError(f"{KEY_FILE_ENV}={path}: {exc.strerror}") from None
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
        log.warning("%s is not set: secrets are encrypted with a key kept in %s", KEY_ENV, path)
    return path.read_bytes().strip()


class SecretStore:
    """Secrets in one encrypted JSON file of the data directory (written atomically)."""

    def __init__(self, path: Path, key: bytes):
        self.path = path
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise SecretError(
                f"{KEY_ENV} is not a valid key: {exc} "
                "(make one with `python -c 'from cryptography.fernet import "
                "Fernet; print(Fernet.generate_key().decode())'`)"
            ) from exc
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._plain: dict[str, str] = {}  # decrypted on first use: masking runs per log line
        self._forms: dict[str, list[str]] = {}  # each value's masked forms, made once
        if path.exists():
            self._entries = msgspec.json.decode(path.read_bytes(), type=dict[str, _Entry])

    @classmethod
    def open(cls, data_dir: Path) -> SecretStore:
        return cls(data_dir / "secrets.json", load_key(data_dir))

    def names(self) -> list[SecretInfo]:
        return [
            SecretInfo(name=n, created_at=e.created_at, updated_at=e.updated_at)
            for n, e in sorted(self._entries.items())
        ]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def put(self, name: str, value: str) -> bool:
        """Store a value; True when the name is new."""
        if not _NAME.match(name):
            raise SecretError(f"invalid secret name {name!r}: letters, digits, '_', '.', '-'")
        now = time.time()
        with self._lock:
            old = self._entries.get(name)
            token = self._fernet.encrypt(value.encode()).decode()
            self._entries[name] = _Entry(
                token=token, created_at=old.created_at if old else now, updated_at=now
            )
            self._plain.pop(name, None)
            self._forms.pop(name, None)
            self._save()
        return old is None

    def delete(self, name: str) -> None:
        with self._lock:
            if self._entries.pop(name, None) is None:
                raise SecretNotFound(name)
            self._plain.pop(name, None)
            self._forms.pop(name, None)
            self._save()

    def value(self, name: str) -> str:
        if name in self._plain:
            return self._plain[name]
        entry = self._entries.get(name)
        if entry is None:
            raise SecretNotFound(name)
        try:
            self._plain[name] = self._fernet.decrypt(entry.token.encode()).decode()
            return self._plain[name]
        except InvalidToken:
            raise SecretError(
                f"secret {name!r} cannot be decrypted with this key (was {KEY_ENV} changed?)"
            ) from None

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(msgspec.json.encode(self._entries))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def rotate(self, new_key: bytes) -> int:
        """Re-encrypt every secret with `new_key` (one atomic write of the file); returns how
        many. From then on only the new key opens them: install it before the next start."""
        try:
            new = Fernet(new_key)
        except ValueError as exc:
            raise SecretError(f"the new key is not a valid key: {exc}") from exc
        rotating = MultiFernet([new, self._fernet])
        with self._lock:
            entries = {
                name: msgspec.structs.replace(
                    entry, token=rotating.rotate(entry.token.encode()).decode()
                )
                for name, entry in self._entries.items()
            }
            self._entries, self._fernet = entries, new
            self._save()
        return len(entries)

    def mask(self, text: str) -> str:
        """Text with every stored secret value replaced by ***, also as it appears once
        URL-encoded (in a DSN), base64-encoded (in a basic-auth header) or JSON-escaped: for
        errors, events and logs."""
        for name in self._entries:
            forms = self._forms.get(name)
            if forms is None:
                value = self.value(name)
                forms = self._forms[name] = _encodings(value) if len(value) >= 4 else []
            for form in forms:
                text = text.replace(form, "***")
        return text


def _encodings(value: str) -> list[str]:
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value),
        base64.b64encode(value.encode()).decode().rstrip("="),
        json.dumps(value)[1:-1],
    }
    # Longest first: a form that contains another is masked whole.
    return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)


def mask_logs(secrets: SecretStore) -> None:
    """Mask secret values in every log record of DataFlow's loggers (errors of drivers can
    quote a connection string or a header). Installed once per process by the server."""
    previous = logging.getLogRecordFactory()
    if isinstance(previous, _MaskingRecordFactory):
        previous.store = secrets
        return
    logging.setLogRecordFactory(_MaskingRecordFactory(previous, secrets))


class _MaskingRecordFactory:
    """A log record factory that masks the secret values of `store` in DataFlow's records."""

    def __init__(self, previous: Callable[..., logging.LogRecord], store: SecretStore):
        self.previous = previous
        self.store = store

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        if record.name.startswith("dataflow") and self.store._entries:
            record.msg, record.args = self.store.mask(record.getMessage()), ()
        return record


class EnvSecrets:
    """Secrets from DATAFLOW_SECRET_<NAME> variables: for `dataflow run` without a server."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._var(name) in os.environ

    def value(self, name: str) -> str:
        try:
            return os.environ[self._var(name)]
        except KeyError:
            raise SecretError(f"secret {name!r}: set {self._var(name)}") from None

    @staticmethod
    def _var(name: str) -> str:
        return "DATAFLOW_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()
