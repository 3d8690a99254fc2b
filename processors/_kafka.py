"""Kafka connection settings and retries shared by kafka_consume and kafka_publish."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from logging import Logger
from typing import Annotated, Any, Literal, Protocol, TypeVar

from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.helpers import create_ssl_context

from dataflow.processor import ProcessorConfig, ui


class KafkaConnectionConfig(ProcessorConfig, kw_only=True):
    """Where the cluster is and how to log in (shared by kafka_consume and kafka_publish)."""

    bootstrap_servers: Annotated[
        str,
        ui(
            "Bootstrap servers",
            "Comma-separated host:port of one or more brokers.",
            placeholder="broker1:9092,broker2:9092",
            min_length=1,
        ),
    ]
    connect_timeout_seconds: Annotated[
        float,
        ui(
            "Connect timeout (s)",
            "How long an unreachable cluster is retried, with backoff, before the node fails.",
            advanced=True,
            gt=0,
        ),
    ] = 30.0
    client_id: Annotated[
        str, ui("Client id", "Names this client in broker logs and quotas.", advanced=True)
    ] = "dataflow"
    security_protocol: Annotated[
        Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"],
        ui(
            "Security protocol",
            "TLS and/or SASL login, as the brokers' listener expects.",
            advanced=True,
        ),
    ] = "PLAINTEXT"
    sasl_mechanism: Annotated[
        Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
        ui("SASL mechanism", "With a SASL security protocol.", advanced=True),
    ] = "PLAIN"
    sasl_username: Annotated[str, ui("SASL username", "With a SASL protocol.", advanced=True)] = ""
    sasl_password: Annotated[
        str,
        ui("SASL password", "With a SASL protocol.", widget="password", advanced=True, secret=True),
    ] = ""
    ssl_cafile: Annotated[
        str,
        ui(
            "CA file",
            "PEM file of the CA that signed the brokers' certificates; empty = the system CAs.",
            advanced=True,
        ),
    ] = ""
    ssl_certfile: Annotated[
        str,
        ui(
            "Client certificate",
            "PEM file, for brokers that require client certificates.",
            advanced=True,
        ),
    ] = ""
    ssl_keyfile: Annotated[
        str, ui("Client key", "PEM file of the client certificate's key.", advanced=True)
    ] = ""
    ssl_key_password: Annotated[
        str,
        ui(
            "Client key password",
            "If the key file is encrypted.",
            widget="password",
            advanced=True,
            secret=True,
        ),
    ] = ""

    def client_kwargs(self) -> dict[str, Any]:
        """The aiokafka arguments that say where the cluster is and how to log in."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if "SSL" in self.security_protocol:
            kwargs["ssl_context"] = create_ssl_context(
                cafile=self.ssl_cafile or None,
                certfile=self.ssl_certfile or None,
                keyfile=self.ssl_keyfile or None,
                password=self.ssl_key_password or None,
            )
        if self.security_protocol.startswith("SASL"):
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        return kwargs

    def unreachable(self, exc: BaseException) -> str:
        return (
            f"cannot reach Kafka at {self.bootstrap_servers} within "
            f"{self.connect_timeout_seconds:g} s ({describe(exc)})"
        )


def describe(exc: BaseException) -> str:
    text = str(exc)  # aiokafka's errors already start with their class name
    return text if type(exc).__name__ in text else f"{type(exc).__name__}: {text}".rstrip(": ")


class _Startable(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


#: An aiokafka producer or consumer.
Client = TypeVar("Client", bound=_Startable)


def retriable(exc: BaseException) -> bool:
    """Errors that go away once the cluster is back (connection, timeouts, leader moves)."""
    return isinstance(exc, KafkaTimeoutError) or bool(getattr(exc, "retriable", False))


async def start_with_retry(
    make: Callable[[], Client], config: KafkaConnectionConfig, log: Logger
) -> Client:
    """A started aiokafka client; an unreachable cluster is retried until the connect timeout."""
    deadline = time.monotonic() + config.connect_timeout_seconds
    delay = max(config.retry_backoff_seconds, 0.05)
    while True:
        client = make()
        try:
            await client.start()
            return client
        except KafkaError as exc:
            with contextlib.suppress(Exception):
                await client.stop()
            if not retriable(exc):  # e.g. a failed login: waiting will not help
                message = f"Kafka at {config.bootstrap_servers}: {describe(exc)}"
                raise ConnectionError(message) from exc
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectionError(config.unreachable(exc)) from exc
            log.warning("%s; retrying in %.1f s", config.unreachable(exc), min(delay, left))
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 10.0)
