"""Server settings: one struct, passed in; read from DATAFLOW_* variables only by the CLI."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from dataflow.processor.reach import Reach


class Settings(msgspec.Struct, kw_only=True):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8080
    data_dir: str = "./data"
    #: sqlite:///PATH (default: the data directory's journal.db), postgresql://..., memory://
    journal_url: str = ""
    #: Example flows imported on first start (when the journal holds no flow yet).
    flowfiles_dir: str | None = None
    #: Largest request body accepted; larger ones get 413.
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 16 * 1024 * 1024
    #: Largest request headers: larger ones get 431 (400 from `dataflow serve` when they
    #: come in pieces that add up to more) before any handler runs.
    max_header_bytes: Annotated[int, msgspec.Meta(ge=4096, le=1024 * 1024)] = 32 * 1024
    #: Seconds a client has to send a request's line and headers (`dataflow serve`): slow
    #: clients are dropped.
    header_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=600)] = 10.0
    #: Seconds an idle keep-alive connection stays open (`dataflow serve`).
    keep_alive_seconds: Annotated[int, msgspec.Meta(ge=1, le=600)] = 5
    #: Connections and requests at once (`dataflow serve`); past it, 503. Bounds what slow
    #: or many clients can hold.
    max_connections: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000
    #: The `python` processor runs arbitrary code: off unless asked for.
    allow_python: bool = False
    #: A flow snapshot is written every this many events of its stream.
    snapshot_every: Annotated[int, msgspec.Meta(ge=1)] = 50
    #: Directory holding the frontend's production build (index.html); None: the bundled one.
    static_dir: str | None = None
    #: Seconds between metrics pushes on the WebSocket.
    metrics_push_seconds: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    #: Seconds between MetricsReported events in the journal.
    metrics_event_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    #: Seconds between checkpoints of every running flow, overriding each flow's own
    #: settings.checkpoint_interval_seconds; None (the default): each flow's own.
    offsets_report_seconds: Annotated[float, msgspec.Meta(gt=0)] | None = None
    #: On shutdown, seconds to let running flows drain before cancelling them.
    shutdown_drain_seconds: Annotated[float, msgspec.Meta(ge=0)] = 10.0
    #: Restart, on start-up, the runs that were running when the server stopped.
    resume_runs: bool = True
    #: Records kept per edge for the data preview (sample endpoint).
    sample_size: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 200

    #: Password of the `admin` user created on first start (DATAFLOW_ADMIN_PASSWORD); unset:
    #: a random one, printed once and written to DATA_DIR/admin-password.txt (mode 0600).
    admin_password: str | None = None
    #: How long an editor session lasts.
    session_hours: Annotated[float, msgspec.Meta(gt=0, le=720)] = 12.0
    #: Sign-in attempts allowed per client address and minute (then 429).
    login_attempts_per_minute: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 20
    #: Argon2id cost of password hashes: lowering them makes a stolen hash cheaper to guess.
    password_time_cost: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3
    password_memory_kib: Annotated[int, msgspec.Meta(ge=8, le=4 * 1024 * 1024)] = 65536
    password_parallelism: Annotated[int, msgspec.Meta(ge=1, le=16)] = 4
    #: Seconds after which a server reads users and tokens again from the journal (so that a
    #: revocation on another server takes effect here).
    access_refresh_seconds: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 5.0

    #: Host names (and host:port) clients may use to reach the server; any other Host header
    #: gets 400 (DNS rebinding). Loopback names, and `host` itself when it names one interface,
    #: are always allowed. From the environment: comma-separated.
    allowed_hosts: list[str] = msgspec.field(default_factory=list)
    #: Origins (https://editor.example.com) whose pages may call the API and open the
    #: WebSocket from a browser; empty (the default): CORS off, only this server's own pages.
    cors_origins: list[str] = msgspec.field(default_factory=list)

    #: Directories flows may read and write (after `..` and symlinks are resolved); a path
    #: elsewhere is a validation error and is refused at run time. Empty (the default): the
    #: data directory and the flowfiles directory. From the environment: comma-separated.
    file_roots: list[str] = msgspec.field(default_factory=list)
    #: Hosts the HTTP processors (http_poll, http_post, websocket_subscribe) may call: names,
    #: `*.example.com`, IP addresses or CIDR networks. None (the default): any host.
    http_allowed_hosts: list[str] | None = None
    #: Directory entries and seconds one glob (read_file's path) may take.
    glob_max_entries: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)] = 100_000
    glob_max_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 10.0

    #: Validation (and schema inference) runs in threads of its own: how many, and how long
    #: one may take before the request gets 503 (the glob and SQL limits end it soon after).
    validation_workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 2
    validation_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    #: Edge samples: how many queries at once (others wait), and how long one may take.
    sample_concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 2
    sample_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=600)] = 5.0

    #: OpenID Connect sign-in (off unless oidc_issuer is set): the provider's issuer URL, this
    #: server's client id and secret (DATAFLOW_OIDC_CLIENT_SECRET), the claim holding role
    #: names, and the role of users whose token names none.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid profile email"
    oidc_role_claim: str = "dataflow_roles"
    oidc_default_role: Literal["viewer", "operator", "editor", "admin"] = "viewer"
    #: What the sign-in page's button says.
    oidc_display_name: str = "single sign-on"

    #: PEM certificate chain and private key: the server speaks HTTPS itself (session
    #: cookies are then marked Secure). Behind a TLS-terminating proxy, leave both unset.
    tls_cert: str | None = None
    tls_key: str | None = None

    @property
    def host_names(self) -> list[str]:
        """Every Host header value the server answers to."""
        names = ["127.0.0.1", "localhost", "::1", "[::1]", *self.allowed_hosts]
        if self.host not in ("", "0.0.0.0", "::"):
            names.append(self.host)
        return sorted(set(names))

    def __post_init__(self) -> None:
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError("oidc_issuer needs oidc_client_id and oidc_client_secret as well")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together")

    def reach(self) -> Reach:
        """What flows on this server may touch (processors get it through their Context)."""
        roots = self.file_roots or [self.data_dir, *filter(None, [self.flowfiles_dir])]
        return Reach(
            file_roots=tuple(Path(r).resolve() for r in roots),
            http_hosts=tuple(self.http_allowed_hosts)
            if self.http_allowed_hosts is not None
            else None,
            glob_max_entries=self.glob_max_entries,
            glob_max_seconds=self.glob_max_seconds,
        )

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def resolved_journal_url(self) -> str:
        return self.journal_url or f"sqlite:///{self.data_path / 'journal.db'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Fields from DATAFLOW_<FIELD> variables, then explicit overrides (CLI flags)."""
        if env is None:
            env = os.environ
        raw: dict[str, Any] = {}
        lists = {"allowed_hosts", "cors_origins", "file_roots", "http_allowed_hosts"}
        for name in cls.__struct_fields__:
            value = env.get(f"DATAFLOW_{name.upper()}")
            if value is not None:
                raw[name] = (
                    [v.strip() for v in value.split(",") if v.strip()] if name in lists else value
                )
        raw.update({k: v for k, v in overrides.items() if v is not None})
        return msgspec.convert(raw, type=cls, strict=False)
