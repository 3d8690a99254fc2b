"""The services the routes call, built once by create_app from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.datastructures import State

from dataflow.api.auth import LoginGuard
from dataflow.events.flows import FlowStore
from dataflow.events.journal import Journal
from dataflow.events.projections import FlowListProjection
from dataflow.processor import Registry
from dataflow.processor.reach import Reach
from dataflow.runtime.runs import RunManager
from dataflow.secrets import SecretStore
from dataflow.security import AccessStore
from dataflow.security.oidc import OidcClient
from dataflow.security.server_settings import ServerSettingsStore
from dataflow.settings import Settings


@dataclass
class Services:
    settings: Settings
    registry: Registry
    journal: Journal
    flows: FlowStore
    flow_list: FlowListProjection
    runs: RunManager
    secrets: SecretStore
    access: AccessStore
    login_guard: LoginGuard
    #: Run-time server settings (the admin's python gate).
    server: ServerSettingsStore
    oidc: OidcClient | None = None

    @property
    def reach(self) -> Reach:
        return self.runs.reach


def provide_services(state: State) -> Services:
    return state.services
