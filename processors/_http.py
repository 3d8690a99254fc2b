"""Connection settings, retries and JSON-to-Arrow decoding shared by the HTTP processors."""

from __future__ import annotations

import asyncio
import base64
import io
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from dataflow.processor import ProcessorConfig, ui
from dataflow.processor.reach import Reach

#: Longest wait between two attempts, whatever the backoff or a server's Retry-After says.
MAX_BACKOFF_SECONDS = 60.0
#: A source waiting for outside input yields (an empty batch) at least this often, so the
#: engine can pause it, stop it and send checkpoint barriers.
IDLE_SECONDS = 1.0
EMPTY = pa.RecordBatch.from_pylist([])


class HttpConnectionConfig(ProcessorConfig, kw_only=True):
    """Where the endpoint is and how to log in (shared by the HTTP processors)."""

    url: Annotated[
        str,
        ui(
            "URL",
            "http:// or https:// address of the endpoint.",
            placeholder="https://api.example.com/v1/orders",
            pattern=r"^https?://",
        ),
    ]
    headers: Annotated[
        dict[str, str],
        ui("Headers", "Sent with every request.", examples=[{"Accept": "application/json"}]),
    ] = {}
    auth_token: Annotated[
        str,
        ui(
            "Bearer token",
            "Sent as `Authorization: Bearer <token>`; keep it in a secret.",
            widget="password",
            secret=True,
        ),
    ] = ""
    username: Annotated[
        str, ui("Username", "HTTP basic authentication, with the password.", advanced=True)
    ] = ""
    password: Annotated[
        str,
        ui(
            "Password",
            "HTTP basic authentication password.",
            widget="password",
            advanced=True,
            secret=True,
        ),
    ] = ""
    timeout_seconds: Annotated[
        float,
        ui("Timeout (s)", "Longest wait to connect and for each response.", advanced=True, gt=0),
    ] = 30.0

    def __post_init__(self) -> None:
        if self.auth_token and self.username:
            raise ValueError("set either auth_token or username/password, not both")

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.auth_token:
            headers["Authorization"] = f"Bearer {self.auth_token}"
        elif self.username:
            pair = f"{self.username}:{self.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        return headers

    def client(self, reach: Reach) -> httpx.AsyncClient:
        """A client whose every request, redirects and next-page links included, goes only
        to hosts the server's reach allows (HostNotAllowed otherwise)."""

        async def allowed(request: httpx.Request) -> None:
            reach.url(str(request.url))

        return httpx.AsyncClient(
            headers=self.request_headers(),
            timeout=self.timeout_seconds,
            follow_redirects=True,
            event_hooks={"request": [allowed]},
        )

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before retry number `attempt` (0-based): doubling, or what the server asked."""
        delay = self.retry_backoff_seconds * 2**attempt
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, MAX_BACKOFF_SECONDS)


# -- talking HTTP --------------------------------------------------------------------------
def transient(status: int) -> bool:
    """Statuses worth trying again: the server is busy or briefly broken."""
    return status in (408, 425, 429) or status >= 500


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else None


def describe_response(response: httpx.Response, limit: int = 200) -> str:
    """`HTTP 404 Not Found: <start of the body>`: what a failure port or an error shows."""
    text = response.text.strip().replace("\n", " ")
    if len(text) > limit:
        text = text[:limit] + "..."
    reason = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    return f"{reason}: {text}" if text else reason


def describe_error(exc: BaseException) -> str:
    # httpx's timeouts and connection errors often have an empty message.
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def sleep_yielding(seconds: float) -> AsyncIterator[pa.RecordBatch]:
    """Wait, yielding EMPTY every IDLE_SECONDS so the engine keeps control of the source."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(left, IDLE_SECONDS))
        yield EMPTY


# -- JSON to Arrow -------------------------------------------------------------------------
class JsonError(ValueError):
    """A body or message that is not JSON records; `line` (1-based) when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(f"line {line}: {message}" if line else message)
        self.message = message
        self.line = line


_MALFORMED = re.compile(r"^JSON is malformed: (.*) \(byte (\d+)\)$")
_ARROW_ERROR = re.compile(r"^(?:JSON parse error: )?(.*?)\.? in row (\d+)$")
_COLUMN = re.compile(r"Column\(([^)]*)\)")
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


def is_ndjson(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in NDJSON_TYPES


def _read(data: bytes, multiline: bool) -> pa.Table:
    # One block for the whole body: row numbers in errors then count from its start.
    options = pj.ReadOptions(block_size=max(len(data) + 1, 1 << 16))
    parse = pj.ParseOptions(newlines_in_values=multiline)
    return pj.read_json(io.BytesIO(data), read_options=options, parse_options=parse)


def _arrow_message(exc: pa.ArrowInvalid, wrapped: bool = False) -> tuple[str, int | None]:
    """pyarrow's reason, with its column path as a field name, and its row number."""
    found = _ARROW_ERROR.match(str(exc))
    text, row = (found[1], int(found[2])) if found else (str(exc), None)

    def field(match: re.Match) -> str:
        parts = [p for p in match[1].split("/") if p and p != "[]"]
        parts = parts[1:] if wrapped else parts  # the wrapper's own key
        return f'field "{parts[-1]}"' if parts else "the record"

    return _COLUMN.sub(field, text), row


def _syntax_error(data: bytes, exc: msgspec.DecodeError, first_line: int = 1) -> JsonError:
    found = _MALFORMED.match(str(exc))
    if not found:
        return JsonError(f"invalid JSON: {exc}", first_line if first_line > 1 else None)
    at = int(found[2])
    line = data.count(b"\n", 0, at)
    column = at - (data.rfind(b"\n", 0, at) + 1) + 1
    return JsonError(f"invalid JSON: {found[1]} (column {column})", first_line + line)


def read_ndjson(data: bytes) -> pa.Table:
    """Newline-delimited JSON objects as a table, in one pyarrow call; JsonError names the
    line of the first bad record."""
    try:
        return _read(data, multiline=False)
    except pa.ArrowInvalid as exc:
        raise _ndjson_error(data, exc) from None


def _ndjson_error(data: bytes, exc: pa.ArrowInvalid) -> JsonError:
    # The slow path, on failure only: look for the first line that is not a JSON object.
    numbers = []
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue  # pyarrow skips blank lines: they are no record
        numbers.append(number)
        try:
            msgspec.json.decode(line, type=msgspec.Raw)
        except msgspec.DecodeError as error:
            return _syntax_error(line, error, number)
        if line.lstrip()[:1] != b"{":
            return JsonError("not a JSON object", number)
    text, row = _arrow_message(exc)
    line_of_row = numbers[row] if row is not None and row < len(numbers) else None
    return JsonError(text, line_of_row)


def parse_document(body: bytes) -> pa.Array:
    """One JSON document (object, array...) as a length-1 Arrow array of its inferred type."""
    try:
        # pyarrow reads objects only: wrap the document as the value of one.
        table = _read(b'{"r":' + body + b"}", multiline=True)
    except pa.ArrowInvalid as exc:
        try:
            msgspec.json.decode(body, type=msgspec.Raw)
        except msgspec.DecodeError as error:
            raise _syntax_error(body, error) from None
        raise JsonError(_arrow_message(exc, wrapped=True)[0]) from None
    return table.column(0).combine_chunks()


def at_pointer(value: pa.Array, pointer: str) -> pa.Array:
    """The part of a parse_document() value at an RFC 6901 JSON pointer ("" = all of it)."""
    if pointer and not pointer.startswith("/"):
        raise JsonError(f"JSON pointer {pointer!r} must be empty or start with '/'")
    where = ""
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        kind = value.type
        if pa.types.is_struct(kind) and kind.get_field_index(part) >= 0:
            value = pc.struct_field(value, [kind.get_field_index(part)])
        elif pa.types.is_list(kind) and part.isdigit() and int(part) < len(value.flatten()):
            value = pc.list_element(value, int(part))
        else:
            keys = [kind.field(i).name for i in range(kind.num_fields)] if kind.num_fields else []
            hint = f" (keys there: {', '.join(keys)})" if pa.types.is_struct(kind) else ""
            raise JsonError(f"nothing at {where}/{raw} in the response{hint}")
        where += "/" + raw
    return value


def records_of(value: pa.Array, where: str = "the body") -> pa.RecordBatch:
    """An object as one record, an array of objects as records, an empty array or null as none."""
    kind, found = value.type, str(value.type)
    if pa.types.is_list(kind):
        value, kind, found = value.flatten(), kind.value_type, f"an array of {kind.value_type}"
    if pa.types.is_null(kind):
        return EMPTY
    if not pa.types.is_struct(kind):
        raise JsonError(f"{where} is not a JSON object or an array of objects (found {found})")
    return pa.RecordBatch.from_struct_array(value)


def scalar_at(value: pa.Array, pointer: str) -> Any:
    """The Python value at a pointer of a parse_document() value; None when absent or null."""
    try:
        found = at_pointer(value, pointer)
    except JsonError:
        return None
    return found[0].as_py() if len(found) else None


def decode_records(body: bytes, ndjson: bool = False) -> pa.Table:
    """Records of a body: NDJSON (one object per line), or one JSON document, an object being
    one record and an array of objects many. Raises JsonError with the line when it can."""
    if not body.strip():
        raise JsonError("the body is empty")
    if not ndjson:
        try:
            msgspec.json.decode(body, type=msgspec.Raw)  # validates only: a C-speed scan
        except msgspec.DecodeError as exc:
            if "trailing characters" not in str(exc):
                raise _syntax_error(body, exc) from None
            ndjson = True  # several documents: one per line
    if ndjson:
        return read_ndjson(body)
    return pa.Table.from_batches([records_of(parse_document(body))])


def decode_messages(messages: list[bytes]) -> tuple[pa.Table, dict[int, str]]:
    """Records from JSON messages, each an object or an array of objects: the table, and the
    messages that could not be decoded (index -> reason).

    One pyarrow call for the batch. Each message is checked first (a C-speed scan), so what
    pyarrow can still refuse is a field whose type changes; that message is left out and the
    rest read again.
    """
    lines: list[bytes] = []
    origin: list[int] = []  # the message of each line
    errors: dict[int, str] = {}
    for i, message in enumerate(messages):
        try:
            msgspec.json.decode(message, type=msgspec.Raw)
        except msgspec.DecodeError as exc:
            errors[i] = _syntax_error(message, exc).message
            continue
        text = message.strip()
        if text[:1] == b"[":
            parts = [bytes(r).strip() for r in msgspec.json.decode(text, type=list[msgspec.Raw])]
        else:
            parts = [text]
        if any(part[:1] != b"{" for part in parts):
            errors[i] = "not a JSON object"
            continue
        # Line breaks in JSON are whitespace between tokens (strings escape them).
        lines += [part.replace(b"\n", b" ").replace(b"\r", b" ") for part in parts]
        origin += [i] * len(parts)
    while lines:
        try:
            return _read(b"\n".join(lines), multiline=False), errors
        except pa.ArrowInvalid as exc:
            reason, row = _arrow_message(exc)
            if row is None or row >= len(origin):
                raise
            bad = origin[row]
            errors[bad] = reason
            keep = [k for k, i in enumerate(origin) if i != bad]
            lines, origin = [lines[k] for k in keep], [origin[k] for k in keep]
    return pa.table({}), errors
