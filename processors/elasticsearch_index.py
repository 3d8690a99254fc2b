"""Index rows into Elasticsearch as documents through the bulk API, retrying what was refused."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import httpx
import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import ProcessorConfig, ProcessorSpec, SchemaError, Sink, ui
from dataflow.processor.base import with_error_column
from dataflow_processors._sql import query

#: Per-item (and whole-request) statuses that mean "busy, try later", not "bad document".
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Only what parse_bulk_response reads: a successful item shrinks to its status.
FILTER_PATH = "errors,items.*.status,items.*.error"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_INDEX_COL, _ID_COL = "__dataflow_index", "__dataflow_id"


def index_template(template: str) -> list[tuple[Literal["text", "time", "column"], str]]:
    """The parts of an index name template: `{column}` placeholders, and text in which
    `%Y`-style codes are strftime codes of the timestamp column (`%%` is a percent sign)."""
    parts: list[tuple[Literal["text", "time", "column"], str]] = []
    for i, piece in enumerate(_PLACEHOLDER.split(template)):  # text, column, text, ...
        if i % 2:
            if not piece:
                raise ValueError("index: empty {} placeholder (write {column})")
            parts.append(("column", piece))
        elif "{" in piece or "}" in piece:
            raise ValueError(f"index: unbalanced brace in {template!r}")
        elif piece:
            parts.append(("time" if "%" in piece else "text", piece))
    return parts


def index_names(batch: pa.RecordBatch, config: ElasticsearchIndexConfig) -> pa.Array:
    """Each row's index, rendered for the whole batch at once; null where a value is null.

    Index names must be lower case, so the result is lowered (`orders-{country}` with FR
    gives orders-fr); times are formatted in UTC.
    """
    parts: list[pa.Array | str] = []
    for kind, text in index_template(config.index):
        if kind == "column":
            parts.append(batch.column(text).cast(pa.string()))
        elif kind == "time":
            times = batch.column(config.timestamp_column)
            if not (pa.types.is_timestamp(times.type) or pa.types.is_date(times.type)):
                raise ValueError(
                    f"timestamp_column {config.timestamp_column!r} is {times.type}, not a"
                    " timestamp or date"
                )
            parts.append(pc.strftime(_utc(times), format=text))
        else:
            parts.append(text)
    if not any(isinstance(p, pa.Array) for p in parts):
        return pa.repeat(pa.scalar("".join(parts).lower()), batch.num_rows)
    return pc.utf8_lower(pc.binary_join_element_wise(*parts, ""))


def bulk_lines(batch: pa.RecordBatch, config: ElasticsearchIndexConfig) -> pa.Array:
    """Per row, its action and document lines of the NDJSON bulk body; null for a row with
    no index name or id. One DuckDB call renders the JSON of the whole batch."""
    names = batch.schema.names
    columns = [_iso(c) if pa.types.is_timestamp(c.type) else c for c in batch.columns]
    extra = {_INDEX_COL: index_names(batch, config)}
    action = f"'_index': {_identifier(_INDEX_COL)}"
    if config.id_column:
        extra[_ID_COL] = batch.column(config.id_column).cast(pa.string())
        action += f", '_id': {_identifier(_ID_COL)}"
    table = pa.RecordBatch.from_arrays([*columns, *extra.values()], [*names, *extra])
    document = ", ".join(f"{_literal(n)}: {_identifier(n)}" for n in names)
    sql = (
        f"SELECT CASE WHEN {' AND '.join(f'{_identifier(n)} IS NOT NULL' for n in extra)} THEN"
        f" to_json({{{_literal(config.op_type)}: {{{action}}}}}) || chr(10)"
        f" || to_json({{{document}}}) || chr(10) END FROM input"
    )
    return query(sql, table).column(0).combine_chunks().cast(pa.large_string())


def bulk_body(batch: pa.RecordBatch, config: ElasticsearchIndexConfig) -> bytes:
    """The NDJSON bulk request body for the rows of `batch` that have an index name (and id)."""
    return _concat(bulk_lines(batch, config).drop_null())


def parse_bulk_response(response: Mapping[str, Any]) -> tuple[list[int], list[tuple[int, str]]]:
    """From a bulk response: the positions of the items to send again (refused while the
    cluster was busy) and (position, reason) of the items rejected for good."""
    if not response.get("errors"):
        return [], []
    retry, failed = [], []
    for i, item in enumerate(response["items"]):
        (result,) = item.values()  # {"index": {...}} or {"create": {...}}
        status = result.get("status", 200)
        if status in RETRY_STATUSES:
            retry.append(i)
        elif status >= 300 or "error" in result:
            failed.append((i, f"{status} {error_reason(result.get('error'))}"))
    return retry, failed


def error_reason(error: Any) -> str:
    """`type: reason`, with the underlying cause when Elasticsearch gives one."""
    if not isinstance(error, Mapping):
        return str(error)
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
    cause = error.get("caused_by")
    return f"{text} (caused by {error_reason(cause)})" if cause else text


class ElasticsearchIndexConfig(ProcessorConfig, kw_only=True):
    """Each row becomes one JSON document in the index its `index` template names, sent in
    bulk requests of max_records_per_request documents. With an id column, a row replaces the
    document with the same id (op_type index) or is rejected if one exists (op_type create);
    without, Elasticsearch assigns ids, so a batch replayed after a failure is indexed twice.

    Index template: `{column}` inserts a column's value, `%Y %m %d %H` (any strftime code) the
    time of timestamp_column in UTC: `logs-{service}-%Y.%m.%d`. Names are lowered.
    Timestamps are sent as ISO 8601 text, which Elasticsearch maps as dates.

    Documents refused while the cluster is busy (429, 503) are sent again, alone, with backoff
    for retry_timeout_seconds, as are requests to an unreachable cluster. Rejected documents
    (mapping errors, version conflicts) and rows with a null index name or id go to `failure`
    with Elasticsearch's reason when on_error is route.
    """

    urls: Annotated[
        list[str],
        ui(
            "URLs",
            "Base URL of one or more nodes; when one cannot be reached the next is used.",
            examples=[["https://es1:9200", "https://es2:9200"]],
            min_length=1,
        ),
    ]
    index: Annotated[
        str,
        ui(
            "Index",
            "Index name, or a template: {column} and strftime codes of timestamp_column.",
            placeholder="orders-{country}-%Y.%m",
            min_length=1,
        ),
    ]
    timestamp_column: Annotated[
        str, ui("Timestamp column", "Timestamp or date column the index's %-codes format.")
    ] = ""
    id_column: Annotated[
        str, ui("Id column", "Column holding the document id (as text); empty = generated.")
    ] = ""
    op_type: Annotated[
        Literal["index", "create"],
        ui("Operation", "index: add or replace by id; create: add, reject an existing id."),
    ] = "index"
    api_key: Annotated[
        str,
        ui("API key", "Encoded API key (as Kibana shows it).", widget="password", secret=True),
    ] = ""
    username: Annotated[str, ui("Username", "For basic authentication.")] = ""
    password: Annotated[
        str, ui("Password", "With the username.", widget="password", secret=True)
    ] = ""
    ca_file: Annotated[
        str,
        ui(
            "CA file",
            "PEM file of the CA that signed the nodes' certificates; empty = the system CAs.",
            advanced=True,
        ),
    ] = ""
    max_records_per_request: Annotated[
        int, ui("Records per request", "Documents per bulk request.", ge=1, le=100_000)
    ] = 1000
    request_timeout_seconds: Annotated[
        float, ui("Request timeout (s)", "Per bulk request.", advanced=True, gt=0)
    ] = 30.0
    retry_timeout_seconds: Annotated[
        float,
        ui(
            "Retry timeout (s)",
            "How long refused documents and an unreachable cluster are retried, with backoff"
            " from retry_backoff_seconds, before they count as failed.",
            advanced=True,
            ge=0,
        ),
    ] = 60.0

    def __post_init__(self) -> None:
        parts = index_template(self.index)
        if any(kind == "time" for kind, _ in parts) and not self.timestamp_column:
            raise ValueError("index: %-codes need a timestamp_column")
        if self.api_key and (self.username or self.password):
            raise ValueError("set either api_key or username and password")


class ElasticsearchIndex(Sink[ElasticsearchIndexConfig]):
    spec = ProcessorSpec(
        name="elasticsearch_index",
        category="sink",
        status="beta",
        icon="search",
        title="Elasticsearch index",
        summary="Index rows as documents in Elasticsearch with the bulk API.",
        inputs=("in",),
        examples=[
            {"urls": ["http://localhost:9200"], "index": "orders", "id_column": "order_id"},
            {
                "urls": ["https://es1:9200", "https://es2:9200"],
                "index": "logs-{service}-%Y.%m.%d",
                "timestamp_column": "at",
                "op_type": "create",
                "api_key": "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
            },
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.client: httpx.AsyncClient | None = None
        self.url = 0  # index in config.urls of the node in use

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema]:
        schema, cfg = inputs.get("in"), self.config
        if schema is None:
            return {}
        used = [("index", n) for kind, n in index_template(cfg.index) if kind == "column"]
        used += [(f, getattr(cfg, f)) for f in ("timestamp_column", "id_column")]
        for field, name in used:
            if name and name not in schema.names:
                raise SchemaError(
                    f'column "{name}" does not exist (upstream columns: '
                    f"{', '.join(schema.names) or 'none'})",
                    field=field,
                )
        if cfg.timestamp_column:
            kind = schema.field(cfg.timestamp_column).type
            if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
                raise SchemaError(f"is {kind}, not a timestamp or date", field="timestamp_column")
        if cfg.on_error == "route":
            return {"failure": schema.append(pa.field("error", pa.string()))}
        return {}

    async def open(self) -> None:
        cfg = self.config
        headers = {"Content-Type": "application/x-ndjson"}
        if cfg.api_key:
            headers["Authorization"] = f"ApiKey {cfg.api_key}"
        self.client = httpx.AsyncClient(
            headers=headers,
            auth=(cfg.username, cfg.password) if cfg.username else None,
            verify=ssl.create_default_context(cafile=cfg.ca_file) if cfg.ca_file else True,
            timeout=cfg.request_timeout_seconds,
        )
        # A wrong URL or password fails the start rather than the first batch. Any answer but
        # 401 will do: a key allowed only to write may not read the cluster's info (403).
        response = await self._request("GET", "/")
        if response.status_code == 401:
            raise PermissionError(f"Elasticsearch at {self._where}: {_http_error(response)}")

    async def close(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            await client.aclose()

    @property
    def _where(self) -> str:
        return ", ".join(map(_redact, self.config.urls))

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, to the next node when one cannot be reached, and again with backoff
        while the cluster is unreachable or busy (429, 503), until the retry timeout."""
        cfg, client = self.config, self.client
        assert client is not None, "open() first"
        deadline = time.monotonic() + cfg.retry_timeout_seconds
        delay = max(cfg.retry_backoff_seconds, 0.05)
        while True:
            url = cfg.urls[self.url].rstrip("/") + path
            try:
                response = await client.request(method, url, **kwargs)
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"{_redact(url)}: {_http_error(response)}"
            except httpx.TransportError as exc:
                self.url = (self.url + 1) % len(cfg.urls)
                problem = f"{_redact(url)}: {type(exc).__name__}: {exc}".rstrip(": ")
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectionError(
                    f"Elasticsearch at {self._where} still unavailable after "
                    f"{cfg.retry_timeout_seconds:g} s ({problem})"
                )
            self.log.warning("%s; retrying in %.1f s", problem, min(delay, left))
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 10.0)

    async def write_async(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch] | None:
        if not batch.num_rows:
            return None
        lines = await asyncio.to_thread(bulk_lines, batch, self.config)
        errors = dict.fromkeys(
            pc.indices_nonzero(lines.is_null()).to_pylist(), "no index name or id (a null value)"
        )
        errors.update(await self._index(lines, pc.indices_nonzero(lines.is_valid())))
        if not errors:
            return None
        rows = sorted(errors)
        if self.config.on_error == "route":
            failed = batch.take(pa.array(rows, pa.int64()))
            return {"failure": with_error_column(failed, pa.array([errors[i] for i in rows]))}
        raise RuntimeError(
            f"{len(rows)} of {batch.num_rows} documents not indexed; first (row {rows[0]}): "
            f"{errors[rows[0]]}"
        )

    async def _index(self, lines: pa.Array, rows: pa.Array) -> dict[int, str]:
        """Send the documents of `rows` in bulk requests; documents refused while the cluster
        is busy are sent again, alone, until the retry timeout. Returns row -> reason."""
        cfg, errors = self.config, {}
        deadline = time.monotonic() + cfg.retry_timeout_seconds
        delay = max(cfg.retry_backoff_seconds, 0.05)
        pending = rows
        while len(pending):
            busy: list[int] = []
            for start in range(0, len(pending), cfg.max_records_per_request):
                chunk = pending.slice(start, cfg.max_records_per_request)
                body = await asyncio.to_thread(_concat_rows, lines, chunk)
                response = await self._request(
                    "POST", "/_bulk", params={"filter_path": FILTER_PATH}, content=body
                )
                if response.status_code in (401, 403):
                    raise PermissionError(
                        f"Elasticsearch at {self._where}: {_http_error(response)}"
                    )
                ids = chunk.to_pylist()
                if response.status_code >= 300:  # the whole request refused (413: too large)
                    errors.update(dict.fromkeys(ids, _http_error(response)))
                    continue
                retry, failed = parse_bulk_response(msgspec.json.decode(response.content))
                errors.update((ids[i], reason) for i, reason in failed)
                busy += [ids[i] for i in retry]
            if busy and time.monotonic() + delay > deadline:
                reason = f"still refused after {cfg.retry_timeout_seconds:g} s (cluster busy)"
                errors.update(dict.fromkeys(busy, reason))
                busy = []
            if busy:
                self.log.warning(
                    "%s: %d documents refused (cluster busy); sending again in %.1f s",
                    self.context.node_id,
                    len(busy),
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            pending = pa.array(busy, pa.int64())
        return errors


def _http_error(response: httpx.Response) -> str:
    try:
        error = msgspec.json.decode(response.content).get("error")
    except (msgspec.DecodeError, AttributeError):
        error = response.text[:200]
    return f"HTTP {response.status_code} {error_reason(error) if error else response.reason_phrase}"


def _redact(url: str) -> str:
    """The URL without the user:password it may hold (httpx logs in with them)."""
    return re.sub(r"//[^/@]*@", "//", url)


def _utc(column: pa.Array) -> pa.Array:
    if pa.types.is_timestamp(column.type) and column.type.tz:
        return column.cast(pa.timestamp(column.type.unit, "UTC"))
    return column


def _iso(column: pa.Array) -> pa.Array:
    """ISO 8601 text (DuckDB's JSON puts a space before the time, which is no date to
    Elasticsearch); fractions of a second are kept."""
    suffix = "Z" if column.type.tz else ""
    return pc.strftime(_utc(column), format=f"%Y-%m-%dT%H:%M:%S{suffix}")


def _concat(lines: pa.Array) -> bytes:
    """The texts end to end in one copy (no per-row Python)."""
    whole = pa.LargeListArray.from_arrays(pa.array([0, len(lines)], pa.int64()), lines)
    return pc.binary_join(whole, pa.scalar("", pa.large_string()))[0].as_buffer().to_pybytes()


def _concat_rows(lines: pa.Array, rows: pa.Array) -> bytes:
    """The texts at `rows` end to end."""
    return _concat(lines.take(rows))


def _literal(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
