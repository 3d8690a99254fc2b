"""create_app(settings): wires journal, flow store, projections, run manager and routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
from litestar import Litestar, Response, get
from litestar.config.cors import CORSConfig
from litestar.di import NamedDependency, Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi.datastructures import ResponseSpec

from dataflow import __version__
from dataflow.api.access import AuthController, TokenController, UserController
from dataflow.api.auth import PUBLIC, AuthMiddleware, LoginGuard, authorize, public
from dataflow.api.catalog import CatalogController
from dataflow.api.errors import EXCEPTION_HANDLERS, domain_exception_handlers
from dataflow.api.flows import FlowController
from dataflow.api.hardening import HardeningMiddleware, add_security_headers
from dataflow.api.ingest import ingest_handler
from dataflow.api.oidc import OidcController, oidc_client
from dataflow.api.openapi import openapi_config
from dataflow.api.runs import RunController, flow_websocket, prometheus_metrics
from dataflow.api.secrets import SecretController
from dataflow.api.server import ServerController
from dataflow.api.services import Services, provide_services
from dataflow.api.static import find_static_dir, static_handler
from dataflow.events.flows import FlowStore
from dataflow.events.open import open_journal
from dataflow.events.projections import FlowListProjection
from dataflow.graph import check_document
from dataflow.processor import Registry, default_registry
from dataflow.runtime.runs import RunManager
from dataflow.secrets import SecretStore, mask_logs
from dataflow.security import AccessStore
from dataflow.security.bootstrap import ensure_admin
from dataflow.security.passwords import Passwords
from dataflow.security.server_settings import ServerSettingsStore
from dataflow.settings import Settings

log = logging.getLogger("dataflow")


class Health(msgspec.Struct):
    status: str
    version: str
    journal: str
    journal_ok: bool
    detail: str = ""


@get(
    "/health",
    tags=["operations"],
    operation_id="get_health",
    opt=public(),
    responses={
        503: ResponseSpec(
            Health,
            description="Degraded: the journal does not answer (`detail` says why).",
            generate_examples=False,
        )
    },
)
async def health(services: NamedDependency[Services]) -> Response[Health]:
    """Liveness and journal reachability."""
    try:
        ok, detail = await services.journal.ping(), ""
    except Exception as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    body = Health(
        status="ok" if ok else "degraded",
        version=__version__,
        journal=services.journal.name,
        journal_ok=ok,
        detail=detail,
    )
    return Response(body, status_code=200 if ok else 503)


async def load_example_flows(services: Services, directory: Path) -> int:
    """On first start (no flow yet), import the example flows so the editor isn't empty."""
    await services.flow_list.catch_up()
    if services.flow_list.list() or not directory.is_dir():
        return 0
    loaded = 0
    for path in sorted(directory.glob("*.json")):
        checked = check_document(path.read_bytes(), services.registry)
        if checked.flow is None:
            log.warning("skipping example %s: %s", path, checked.report.errors[0].message)
            continue
        await services.flows.create(checked.flow, checked=True)
        loaded += 1
    await services.flow_list.catch_up()
    return loaded


def create_app(settings: Settings | None = None, registry: Registry | None = None) -> Litestar:
    settings = settings or Settings()
    registry = registry if registry is not None else default_registry()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        settings.data_path.mkdir(parents=True, exist_ok=True)
        journal = open_journal(settings.resolved_journal_url)
        flows = FlowStore(journal, snapshot_every=settings.snapshot_every)
        flow_list = FlowListProjection(journal)
        secrets = SecretStore.open(settings.data_path)
        mask_logs(secrets)
        server = ServerSettingsStore(
            journal,
            allow_python=settings.allow_python,
            refresh_seconds=settings.access_refresh_seconds,
        )
        await server.load()
        runs = RunManager(journal, flows, registry, settings, secrets, server=server)
        access = AccessStore(
            journal,
            passwords=Passwords(
                time_cost=settings.password_time_cost,
                memory_kib=settings.password_memory_kib,
                parallelism=settings.password_parallelism,
            ),
            refresh_seconds=settings.access_refresh_seconds,
        )
        await ensure_admin(access, settings.data_path, settings.admin_password)
        services = Services(
            settings,
            registry,
            journal,
            flows,
            flow_list,
            runs,
            secrets,
            access,
            LoginGuard(settings.login_attempts_per_minute),
            server,
            oidc_client(settings),
        )
        app.state.services = services
        if settings.flowfiles_dir:
            count = await load_example_flows(services, Path(settings.flowfiles_dir))
            if count:
                log.info("imported %d example flows from %s", count, settings.flowfiles_dir)
        await runs.recover()
        try:
            yield
        finally:
            await runs.shutdown()
            runs.checker.close()
            await journal.close()

    static_root = find_static_dir(settings.static_dir)
    return Litestar(
        route_handlers=[
            AuthController,
            OidcController,
            UserController,
            TokenController,
            CatalogController,
            FlowController,
            RunController,
            SecretController,
            ServerController,
            ingest_handler,
            flow_websocket,
            health,
            prometheus_metrics,
            static_handler(static_root),
        ],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        middleware=[
            DefineMiddleware(
                HardeningMiddleware,
                host_names=settings.host_names,
                allowed_origins=settings.cors_origins,
                max_header_bytes=settings.max_header_bytes,
            ),
            DefineMiddleware(AuthMiddleware, exclude_from_auth_key=PUBLIC),
        ],
        cors_config=CORSConfig(allow_origins=settings.cors_origins, allow_credentials=True)
        if settings.cors_origins
        else None,
        guards=[authorize],
        before_send=[add_security_headers],
        exception_handlers={**domain_exception_handlers(), **EXCEPTION_HANDLERS},
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(),
        debug=False,
    )
