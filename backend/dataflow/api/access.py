"""Sign-in, sign-out, the current identity; users and API tokens (admins manage everyone's,
every user their own tokens)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, JSONBody

from dataflow.api.auth import (
    SESSION_COOKIE,
    LoginFailure,
    bearer,
    csrf_token,
    identity_of,
    needs,
    public,
)
from dataflow.api.errors import ApiError, problems
from dataflow.api.services import Services
from dataflow.security import IssuedToken, Role, TokenInfo, UserInfo, allows
from dataflow.security.access import NAME_PATTERN

Name = Annotated[str, msgspec.Meta(pattern=NAME_PATTERN)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
LAST_ADMIN = "The caller is not an admin, or the change would leave the server with no admin."
Days = Annotated[float, msgspec.Meta(gt=0, le=3650)]


class Login(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    password: Password
    #: Ask for an API token (for the CLI) instead of a session cookie; it is named this.
    token_name: Name | None = None
    #: The token's lifetime in days (with token_name).
    expires_in_days: Days = 30


class Me(msgspec.Struct, kw_only=True):
    """Who is signed in, with what role; `csrf_token` goes in X-CSRF-Token on unsafe calls
    made with the session cookie."""

    user: str
    role: Role
    kind: str
    token_name: str | None = None
    csrf_token: str | None = None
    expires_at: float | None = None


class LoginResult(Me, kw_only=True):
    #: With token_name: the new API token, shown this once.
    token: str | None = None


class NewUser(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    password: Password
    role: Role = "viewer"


class UserChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    role: Role | None = None
    password: Password | None = None


class NewToken(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    #: At most the owner's role; default: the owner's.
    role: Role | None = None
    expires_in_days: Days = 90
    #: Admins may create a token for another user.
    owner: Name | None = None


async def start_session(
    services: Services, request: Request[Any, Any, Any], user: str, name: str
) -> tuple[IssuedToken, Cookie]:
    """A new session for `user` and the cookie that carries it: HttpOnly, SameSite=Strict,
    Secure when the server speaks TLS, as long as the session lasts."""
    seconds = services.settings.session_hours * 3600
    session = await services.access.issue_token(user, name, kind="session", expires_in=seconds)
    cookie = Cookie(
        key=SESSION_COOKIE,
        value=session.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
        max_age=int(seconds),
    )
    return session, cookie


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/login",
        status_code=200,
        operation_id="login",
        opt=public(),
        responses=problems(
            described={
                401: "Wrong user name or password.",
                429: "Too many sign-in attempts from this address: retry after Retry-After.",
            }
        ),
    )
    async def login(
        self, services: NamedDependency[Services], request: Request, data: JSONBody[Login]
    ) -> Response[LoginResult]:
        """Sign in with a user name and password: sets the session cookie (HttpOnly,
        SameSite=Strict, Secure over TLS), or with `token_name` returns an API token."""
        client = _client(request)
        wait = services.login_guard.admit(client)
        if wait is not None:
            raise ApiError(
                429,
                f"too many sign-in attempts from {client}: try again in {wait:.0f} s",
                headers={"Retry-After": str(round(wait))},
            )
        user = await services.access.check_password(data.name, data.password)
        if user is None:
            services.login_guard.failed(client, data.name)
            raise ApiError(401, "wrong user name or password")
        if data.token_name is not None:
            issued = await services.access.issue_token(
                user.name, data.token_name, expires_in=data.expires_in_days * 86_400
            )
            body = LoginResult(
                user=user.name,
                role=issued.role,
                kind="api",
                token_name=issued.name,
                expires_at=issued.expires_at,
                token=issued.token,
            )
            return Response(body)
        session, cookie = await start_session(services, request, user.name, "editor-session")
        body = LoginResult(
            user=user.name,
            role=session.role,
            kind="session",
            csrf_token=csrf_token(session.token),
            expires_at=session.expires_at,
        )
        return Response(body, cookies=[cookie])

    @post(
        "/logout",
        status_code=204,
        operation_id="logout",
        opt=needs(write="viewer"),
        response_cookies=[Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/")],
    )
    async def logout(self, services: NamedDependency[Services], request: Request) -> None:
        """Ends the session (or revokes the API token) the call was made with."""
        identity = identity_of(request)
        await services.access.revoke(identity.token_id)

    @get("/me", operation_id="get_me")
    async def me(self, request: Request) -> Me:
        identity = identity_of(request)
        session = request.cookies.get(SESSION_COOKIE) if bearer(request) is None else None
        return Me(
            user=identity.user,
            role=identity.role,
            kind=identity.kind,
            token_name=identity.token_name,
            csrf_token=csrf_token(session) if session else None,
        )

    @get("/failures", operation_id="list_login_failures", opt=needs(read="admin"))
    async def failures(self, services: NamedDependency[Services]) -> list[LoginFailure]:
        """Recent failed sign-ins (newest first), with client address and user name."""
        return list(reversed(services.login_guard.failures))


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["users"]
    opt = needs(read="admin", write="admin")

    @get("/", operation_id="list_users")
    async def list_users(self, services: NamedDependency[Services]) -> list[UserInfo]:
        return services.access.users()

    @get("/{name:str}", operation_id="get_user", responses=problems(404))
    async def get_user(self, services: NamedDependency[Services], name: FromPath[str]) -> UserInfo:
        return services.access.user(name)

    @post(
        "/",
        operation_id="create_user",
        responses=problems(422, described={409: "A user of that name exists."}),
    )
    async def create_user(
        self, services: NamedDependency[Services], data: JSONBody[NewUser]
    ) -> UserInfo:
        return await services.access.create_user(data.name, data.password, data.role)

    @patch(
        "/{name:str}",
        operation_id="update_user",
        responses=problems(404, 422, described={403: LAST_ADMIN}),
    )
    async def update_user(
        self, services: NamedDependency[Services], name: FromPath[str], data: JSONBody[UserChange]
    ) -> UserInfo:
        """Change a user's role and/or password."""
        services.access.user(name)
        if data.password is not None:
            await services.access.change_password(name, data.password)
        if data.role is not None:
            await services.access.set_role(name, data.role)
        return services.access.user(name)

    @delete(
        "/{name:str}",
        operation_id="delete_user",
        responses=problems(404, described={403: LAST_ADMIN}),
    )
    async def delete_user(self, services: NamedDependency[Services], name: FromPath[str]) -> None:
        """The user's tokens and sessions stop working at once."""
        await services.access.delete_user(name)


class TokenController(Controller):
    path = "/api/v1/tokens"
    tags = ["tokens"]
    opt = needs(read="viewer", write="viewer")

    @get("/", operation_id="list_tokens")
    async def list_tokens(
        self, services: NamedDependency[Services], request: Request
    ) -> list[TokenInfo]:
        """Your API tokens; an admin sees everyone's."""
        identity = identity_of(request)
        owner = None if identity.role == "admin" else identity.user
        return services.access.tokens(owner)

    @post(
        "/",
        operation_id="create_token",
        responses=problems(
            404,
            422,
            described={
                403: "A token for another user (admins only), or of a role above the caller's."
            },
        ),
    )
    async def create_token(
        self, services: NamedDependency[Services], request: Request, data: JSONBody[NewToken]
    ) -> IssuedToken:
        """A new API token; its value is in this answer only."""
        identity = identity_of(request)
        owner = data.owner or identity.user
        if owner != identity.user and identity.role != "admin":
            raise PermissionDeniedException("only an admin creates tokens for another user")
        # A caller never mints a token stronger than the credential it calls with.
        role = data.role or (identity.role if owner == identity.user else None)
        if role is not None and not allows(identity.role, role):
            raise PermissionDeniedException(f"{identity.actor} is {identity.role}: not {role}")
        return await services.access.issue_token(
            owner, data.name, role=role, expires_in=data.expires_in_days * 86_400
        )

    @delete(
        "/{token_id:str}",
        operation_id="revoke_token",
        responses=problems(404, described={403: "Another user's token: only admins revoke those."}),
    )
    async def revoke_token(
        self, services: NamedDependency[Services], request: Request, token_id: FromPath[str]
    ) -> None:
        identity = identity_of(request)
        token = services.access.token(token_id)
        if token.owner != identity.user and identity.role != "admin":
            raise PermissionDeniedException("only an admin revokes another user's tokens")
        await services.access.revoke(token_id)
