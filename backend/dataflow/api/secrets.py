"""Named secrets: values go in, never come out."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter

from dataflow.api.auth import needs
from dataflow.api.errors import problems
from dataflow.api.services import Services
from dataflow.secrets import NAME_PATTERN, SecretInfo

SecretName = Annotated[
    str,
    PathParameter(
        pattern=NAME_PATTERN,
        description="Letters, digits, '_', '.', '-'; at most 128 characters.",
    ),
]


class SecretValue(msgspec.Struct, forbid_unknown_fields=True):
    value: Annotated[str, msgspec.Meta(min_length=1, max_length=65536)]


class SecretController(Controller):
    path = "/api/v1/secrets"
    tags = ["secrets"]
    #: Editors pick secrets by name in forms; only admins set or delete values.
    opt = needs(read="editor", write="admin")

    @get("/", operation_id="list_secrets")
    async def list_secrets(self, services: NamedDependency[Services]) -> list[SecretInfo]:
        """Names and times only: values are write-only."""
        return services.secrets.names()

    @put(
        "/{name:str}",
        status_code=204,
        operation_id="put_secret",
        responses={
            201: ResponseSpec(None, description="Created: the name is new."),
            204: ResponseSpec(None, description="Replaced: the name existed."),
            **problems(described={400: "The name is not a secret name, or the value is empty."}),
        },
    )
    async def put_secret(
        self,
        services: NamedDependency[Services],
        name: SecretName,
        data: JSONBody[SecretValue],
    ) -> Response[None]:
        """Create or replace a secret; flows refer to it as {"secret": "NAME"}."""
        created = services.secrets.put(name, data.value)
        return Response(None, status_code=201 if created else 204)

    @delete("/{name:str}", operation_id="delete_secret", responses=problems(404))
    async def delete_secret(self, services: NamedDependency[Services], name: SecretName) -> None:
        services.secrets.delete(name)
