"""Sign-in through an OpenID Connect provider: the editor's button leads to /oidc/login, the
provider sends the browser back to /oidc/callback, which sets the session cookie."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_302_FOUND

from dataflow.api.access import start_session
from dataflow.api.auth import public
from dataflow.api.errors import ApiError, problems
from dataflow.api.services import Services
from dataflow.security.oidc import OidcClient, OidcError, OidcSettings
from dataflow.settings import Settings

CALLBACK = "/api/v1/auth/oidc/callback"


class SignInOptions(msgspec.Struct, kw_only=True):
    """What the sign-in page offers: passwords always, a provider when one is configured."""

    password: bool = True
    oidc: bool
    oidc_name: str | None = None


def oidc_client(settings: Settings) -> OidcClient | None:
    # Settings refuses an issuer without a client id and secret.
    if not settings.oidc_issuer or not settings.oidc_client_id or not settings.oidc_client_secret:
        return None
    return OidcClient(
        OidcSettings(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            scopes=settings.oidc_scopes,
            role_claim=settings.oidc_role_claim,
            default_role=settings.oidc_default_role,
        )
    )


def _safe_next(value: str | None) -> str:
    # Only a path of this server: never an open redirect to another site.
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _client(services: Services) -> OidcClient:
    if services.oidc is None:
        raise ApiError(404, "single sign-on is not configured on this server (oidc_issuer)")
    return services.oidc


class OidcController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @get("/options", operation_id="get_sign_in_options", opt=public())
    async def options(self, services: NamedDependency[Services]) -> SignInOptions:
        configured = services.oidc is not None
        name = services.settings.oidc_display_name if configured else None
        return SignInOptions(oidc=configured, oidc_name=name)

    @get(
        "/oidc/login",
        operation_id="oidc_login",
        opt=public(),
        status_code=HTTP_302_FOUND,
        responses=problems(
            described={
                404: "Single sign-on is not configured on this server.",
                503: "The identity provider does not answer.",
            }
        ),
    )
    async def login(
        self,
        services: NamedDependency[Services],
        request: Request[Any, Any, Any],
        next_path: Annotated[str | None, QueryParameter(name="next")] = None,
    ) -> Redirect:
        """Off to the identity provider; it sends the browser back to the callback."""
        client = _client(services)
        redirect_uri = str(request.base_url).rstrip("/") + CALLBACK
        try:
            target = await client.begin(redirect_uri, _safe_next(next_path))
        except OidcError as exc:
            raise ApiError(503, str(exc)) from exc
        return Redirect(target, status_code=HTTP_302_FOUND)

    @get(
        "/oidc/callback",
        operation_id="oidc_callback",
        opt=public(),
        status_code=HTTP_302_FOUND,
        responses=problems(
            described={
                401: "The provider refused, or its answer does not check out (state, ID token).",
                404: "Single sign-on is not configured on this server.",
            }
        ),
    )
    async def callback(
        self,
        services: NamedDependency[Services],
        request: Request[Any, Any, Any],
        oauth_state: Annotated[str, QueryParameter(name="state", max_length=200)] = "",
        code: Annotated[str, QueryParameter(max_length=4096)] = "",
        error: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Redirect:
        """The provider's answer: a session cookie for the user its ID token names."""
        client = _client(services)
        if error is not None:
            raise ApiError(401, f"the identity provider refused the sign-in: {error}")
        try:
            user, next_path = await client.finish(oauth_state, code)
        except OidcError as exc:
            raise ApiError(401, str(exc)) from exc
        settings = services.settings
        info = await services.access.external_user(user.name, user.role, settings.oidc_default_role)
        _, cookie = await start_session(services, request, info.name, "oidc-session")
        return Redirect(next_path, status_code=HTTP_302_FOUND, cookies=[cookie])
