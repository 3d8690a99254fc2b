"""Poll a JSON HTTP API every N seconds, page by page, optionally only for what is new."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import ProcessorSpec, Source, ui
from dataflow_processors._http import (
    EMPTY,
    HttpConnectionConfig,
    JsonError,
    at_pointer,
    describe_error,
    describe_response,
    is_ndjson,
    parse_document,
    read_ndjson,
    records_of,
    retry_after,
    scalar_at,
    sleep_yielding,
    transient,
)

POINTER = r"^(/.*)?$"


class HttpPollPagination(
    msgspec.Struct, tag_field="kind", kw_only=True, forbid_unknown_fields=True, frozen=True
):
    """How the pages of one poll are found: one subclass per kind."""


class HttpPollOnePage(HttpPollPagination, tag="none", kw_only=True, frozen=True):
    """One request per poll."""


class HttpPollNextLink(HttpPollPagination, tag="next_link", kw_only=True, frozen=True):
    """Follow the next page's URL until there is none."""

    next_pointer: Annotated[
        str,
        ui(
            "Next link pointer",
            "JSON pointer to the next page's URL in the body; empty: the Link header's rel=next.",
            placeholder="/links/next",
            pattern=POINTER,
        ),
    ] = ""


class HttpPollPageParam(HttpPollPagination, tag="page_param", kw_only=True, frozen=True):
    """Count pages up in a query parameter until one is empty."""

    page_param: Annotated[
        str, ui("Page parameter", "Query parameter carrying the page number.", min_length=1)
    ] = "page"
    first_page: Annotated[int, ui("First page", "Number of the first page.")] = 1


class HttpPollConfig(HttpConnectionConfig, kw_only=True):
    """GETs `url` every `interval_seconds` (or once) and emits the records of each JSON
    response: the array of objects (or the one object) at `records_pointer`; an NDJSON
    response gives one record per line. Each page is one batch.

    Pagination, by `pagination.kind`: `next_link` follows the URL at `next_pointer` in the
    body, or the `Link: <...>; rel="next"` header, until there is none; `page_param` sends
    the page number in `page_param` (from `first_page`) until a page has no records.

    Incremental polling: with `since_field`, the largest value of that field seen in a poll is
    sent as the query parameter `since_param` on the next ones (timestamps in ISO 8601), so
    the API returns only what is newer. That value is the node's offset: it advances once
    every page of a poll was emitted, and a restart continues from it. Without `since_field`
    there is no offset and a restart polls everything again.

    Connection errors, timeouts, 429 and 5xx answers are retried `max_retries` times with
    backoff (a `Retry-After` is honoured); then, or at once for any other error status, the
    node fails with the URL and the server's answer.
    """

    interval_seconds: Annotated[
        float, ui("Interval (s)", "Time between the start of two polls.", gt=0)
    ] = 60.0
    once: Annotated[
        bool, ui("Once", "Poll once (every page) and end, so the flow can complete.")
    ] = False
    records_pointer: Annotated[
        str,
        ui(
            "Records pointer",
            "JSON pointer (RFC 6901) to the records in the response; empty: the whole body is"
            " the array of records, or one record.",
            placeholder="/data/items",
            pattern=POINTER,
        ),
    ] = ""
    pagination: Annotated[
        HttpPollOnePage | HttpPollNextLink | HttpPollPageParam,
        ui(
            "Pagination",
            "none: one request per poll; next_link: follow the next page's URL;"
            " page_param: count pages up until one is empty.",
        ),
    ] = HttpPollOnePage()
    max_pages: Annotated[
        int,
        ui("Max pages", "Most pages read in one poll (a guard against endless paging).", ge=1),
    ] = 1000
    since_field: Annotated[
        str,
        ui(
            "Since field",
            "Record field that grows with newer records (id, updated_at); empty: no"
            " incremental polling.",
            placeholder="updated_at",
        ),
    ] = ""
    since_param: Annotated[
        str,
        ui("Since parameter", "Query parameter carrying the largest since_field value seen."),
    ] = "since"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.since_field and not self.since_param:
            raise ValueError("since_field needs a since_param")


class HttpPoll(Source[HttpPollConfig]):
    spec = ProcessorSpec(
        name="http_poll",
        category="source",
        status="beta",
        icon="http",
        title="HTTP poll",
        summary="Fetch records from a JSON HTTP API on a schedule, following pagination.",
        outputs=("out",),
        examples=[
            {
                "url": "https://api.example.com/v1/orders",
                "records_pointer": "/data",
                "interval_seconds": 300,
            },
            {
                "url": "https://api.example.com/v1/events",
                "records_pointer": "/items",
                "pagination": {"kind": "next_link", "next_pointer": "/links/next"},
                "since_field": "id",
                "since_param": "after_id",
            },
            {
                "url": "https://api.example.com/v1/products",
                "pagination": {"kind": "page_param", "page_param": "page"},
                "once": True,
            },
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._client: httpx.AsyncClient | None = None
        self._since: Any = None  # the cursor of the last complete poll

    def offset(self) -> Any:
        return {"since": self._since} if self.config.since_field else None

    def restore(self, offset: Any) -> None:
        self._since = (offset or {}).get("since")

    def confine(self) -> None:
        self.allowed_url(self.config.url, "url")

    async def open(self) -> None:
        self._client = self.config.client(self.context.reach)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        cfg = self.config
        loop = asyncio.get_running_loop()
        while True:
            started, newest = loop.time(), None
            async for batch in self._poll():
                if cfg.since_field and batch.num_rows:
                    newest = _newest(newest, _jsonable(pc.max(batch.column(cfg.since_field))))
                yield batch
            if newest is not None:
                self._since = newest
            yield EMPTY  # the engine reads the offset after a yield: now it covers the poll
            if cfg.once:
                return
            async for idle in sleep_yielding(started + cfg.interval_seconds - loop.time()):
                yield idle  # lets the engine pause, stop or checkpoint between polls

    async def _poll(self) -> AsyncIterator[pa.RecordBatch]:
        """One poll: every page, as batches."""
        cfg = self.config
        url, params = cfg.url, {}
        if cfg.since_field and self._since is not None:
            params[cfg.since_param] = str(self._since)
        paging = cfg.pagination
        page = paging.first_page if isinstance(paging, HttpPollPageParam) else 1
        for _ in range(cfg.max_pages):
            if isinstance(paging, HttpPollPageParam):
                params[paging.page_param] = str(page)
            response = await self._get(url, params)
            batch, next_url = await asyncio.to_thread(self._parse, response)
            yield batch
            if isinstance(paging, HttpPollNextLink) and next_url:
                url, params = next_url, {}  # a next link carries its own query
            elif isinstance(paging, HttpPollPageParam) and batch.num_rows:
                page += 1
            else:
                return
        self.log.warning("%s: stopped after max_pages (%d) pages", cfg.url, cfg.max_pages)

    async def _get(self, url: str, params: dict[str, str]) -> httpx.Response:
        """A successful response; what may pass (connection, timeout, 429, 5xx) is retried."""
        assert self._client is not None, "open() first"
        cfg = self.config
        for attempt in range(cfg.max_retries + 1):
            wait = None
            try:
                # Merged into the URL's own query (httpx would replace it with `params`).
                response = await self._client.get(httpx.URL(url).copy_merge_params(params))
            except httpx.TransportError as exc:
                problem, target = describe_error(exc), url
            else:
                target = str(response.request.url)
                if response.is_success:
                    return response
                problem, wait = describe_response(response), retry_after(response)
                if not transient(response.status_code):
                    raise ConnectionError(f"GET {target}: {problem}")
            if attempt < cfg.max_retries:
                delay = cfg.backoff(attempt, wait)
                self.context.problem(
                    f"GET {target} failed ({problem}); "
                    f"retry {attempt + 1}/{cfg.max_retries} in {delay:.1f} s"
                )
                await asyncio.sleep(delay)
        raise ConnectionError(f"GET {target}: {problem} (after {cfg.max_retries} retries)")

    def _parse(self, response: httpx.Response) -> tuple[pa.RecordBatch, str | None]:
        """The page's records and the next page's URL (in a worker thread)."""
        cfg, body = self.config, response.content
        paging = cfg.pagination
        pointer = paging.next_pointer if isinstance(paging, HttpPollNextLink) else None
        where = f"GET {response.request.url}"
        next_url = None
        try:
            if not body.strip():
                batch = EMPTY
            elif is_ndjson(response.headers.get("content-type", "")):
                if cfg.records_pointer:
                    raise JsonError("the response is NDJSON: records_pointer must be empty")
                batches = read_ndjson(body).combine_chunks().to_batches()
                batch = batches[0] if batches else EMPTY
            else:
                doc = parse_document(body)
                found = at_pointer(doc, cfg.records_pointer)
                batch = records_of(found, f"the value at {cfg.records_pointer or '/'}")
                if pointer:
                    next_url = scalar_at(doc, pointer)
        except JsonError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if pointer == "":
            next_url = response.links.get("next", {}).get("url")
        if cfg.since_field and batch.num_rows and cfg.since_field not in batch.schema.names:
            raise ValueError(
                f"{where}: since_field {cfg.since_field!r} is not a field of the records"
                f" (fields: {', '.join(batch.schema.names)})"
            )
        if next_url is not None and not isinstance(next_url, str):
            raise ValueError(f"{where}: the next link at {pointer} is not a string")
        # A relative link is relative to the page it came from.
        return batch, str(response.request.url.join(next_url)) if next_url else None


def _jsonable(value: pa.Scalar) -> Any:
    """A cursor that survives the journal (JSON) and is sent as it reads."""
    value = value.as_py()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value if isinstance(value, int | float | str | None) else str(value)


def _newest(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return b if a is None else a
    try:
        return max(a, b)
    except TypeError:  # a page inferred another type: its own order is all we know
        return b
