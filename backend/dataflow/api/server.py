"""Server settings an admin changes at run time (whether `python` nodes may run)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, get, patch
from litestar.di import NamedDependency
from litestar.params import JSONBody

from dataflow.api.auth import identity_of, needs
from dataflow.api.errors import problems
from dataflow.api.services import Services
from dataflow.security.server_settings import ServerSettings


class ServerSettingsChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The settings to change; those left out stay as they are."""

    #: Allow `python` nodes on this server; needs a server started with --allow-python.
    python_enabled: bool | None = None


class ServerController(Controller):
    path = "/api/v1/server"
    tags = ["server"]

    @get("/settings", operation_id="get_server_settings")
    async def settings(self, services: NamedDependency[Services]) -> ServerSettings:
        """The server's run-time settings: whether python nodes may run here, and why not."""
        await services.server.refresh()
        return services.server.current()

    @patch(
        "/settings",
        operation_id="update_server_settings",
        opt=needs(write="admin"),
        responses=problems(
            described={409: "Python cannot be enabled: the server was not started with it."}
        ),
    )
    async def update(
        self,
        services: NamedDependency[Services],
        request: Request,
        data: JSONBody[ServerSettingsChange],
    ) -> ServerSettings:
        """Change settings (admins). Enabling python on a server not started with
        --allow-python is refused with 409; the change is kept in the journal with who made
        it, so it survives restarts."""
        if data.python_enabled is not None:
            actor = identity_of(request).actor
            return await services.server.set_python_enabled(data.python_enabled, actor)
        return services.server.current()
