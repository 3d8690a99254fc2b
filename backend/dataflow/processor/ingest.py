"""The ingest protocol: a source that takes records sent to the server's ingest endpoint.

`POST /api/v1/ingest/{flow_id}/{node_id}` finds the node's processor in the flow's running
run and, when it implements `Ingest`, hands it the request body. The source decodes the
body its own way (JSON records for http_listen) and answers with how many records the run
took, or raises one of the errors below, which the endpoint maps to its status codes.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

#: What `IngestAuth.check_credentials` answers when the node has no credential of its own:
#: the endpoint then takes only a signed-in user (an API token) with the operator role.
NO_CREDENTIAL = None


class IngestError(Exception):
    """Nothing of the request was taken."""


class InvalidRecords(IngestError, ValueError):
    """400: the body is not records; `line` (1-based) when the source knows it."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(f"line {line}: {message}" if line else message)
        self.message = message
        self.line = line


class TooManyRecords(IngestError, ValueError):
    """413: more records in one request than the source takes (its own limit)."""


class BackPressured(IngestError):
    """429: the flow does not take more now; the client sends again after
    `retry_after_seconds` (whole seconds: the Retry-After header has no fractions)."""

    def __init__(self, retry_after_seconds: int = 1):
        super().__init__(f"back-pressured: send again after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class IngestClosed(IngestError):
    """503: the source is not open, or the run ended before it took the records."""


@runtime_checkable
class Ingest(Protocol):
    """A processor that takes records pushed to it, typically a Source."""

    async def ingest(self, body: bytes, content_type: str) -> int:
        """Take the records of one request body; return how many the run has taken (0 for
        a body holding none). Only return once the run owns them: the client is told they
        are accepted. Raise InvalidRecords, TooManyRecords, BackPressured or IngestClosed,
        each meaning nothing of the request was taken."""
        ...


@runtime_checkable
class IngestAuth(Protocol):
    """An ingest source with a credential of its own, so a producer posts without an account
    on the server: a token or basic-auth pair kept in a secret of the node's config."""

    def check_credentials(self, authorization: str | None) -> bool | None:
        """Whether the request's Authorization header carries the node's credential; None
        when the node has none (the endpoint then asks for a signed-in operator). Compare
        in constant time (hmac.compare_digest)."""
        ...
