"""Write records to Redis as JSON strings, hashes or stream entries, one pipeline per batch."""

from __future__ import annotations

import asyncio
import string
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import redis.asyncio as aioredis

from dataflow.processor import ProcessorSpec, SchemaError, Sink, ui
from dataflow_processors._sql import query
from dataflow_processors.redis_stream import UNREACHABLE, RedisConnection

Positive = Annotated[int, msgspec.Meta(ge=1)]


def parse_template(template: str) -> list[tuple[str, str | None]]:
    """`order:{order_id}` -> [("order:", "order_id")]: literal text, then a column or None."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:  # unbalanced braces
        raise ValueError(f"key: {exc} in {template!r} ({{{{ and }}}} are literal braces)") from None
    parts = []
    for literal, column, spec, conversion in parsed:
        if column is not None and (not column or spec or conversion):
            raise ValueError(f"key: placeholders are plain column names like {{id}}: {template!r}")
        parts.append((literal, column))
    return parts


class RedisWriteConfig(RedisConnection, kw_only=True):
    """Writes every record to Redis, the whole batch in one pipelined round trip.

    set: a string key per record holding the record as a JSON object (one MSET per batch
    without a TTL); hset: a hash per record, a field per column, values as text (lists and
    structs as JSON); xadd: an entry per record appended to a stream. Null values are left
    out of hashes and entries.

    Key template: `{column}` is replaced by the record's value of that column, `{{` and `}}`
    are literal braces: `order:{order_id}`, `{country}:{city}`. Keys are built for the whole
    batch at once; a null in a key column is an error.

    Delivery: at-least-once. The pipeline is not a transaction: a failed batch may be partly
    written, and a retry writes it again (idempotent for set and hset; xadd appends again).
    """

    mode: Annotated[
        Literal["set", "hset", "xadd"],
        ui("Mode", "set: JSON string per record; hset: hash per record; xadd: stream entry."),
    ] = "set"
    key: Annotated[
        str,
        ui(
            "Key",
            "Key template (xadd: the stream); {column} takes the record's value.",
            placeholder="order:{order_id}",
            min_length=1,
        ),
    ]
    columns: Annotated[
        list[str] | None,
        ui("Columns", "Columns written into the value, hash or entry; empty: all of them."),
    ] = None
    ttl_seconds: Annotated[
        Positive | None, ui("TTL (s)", "Expire each key after this long (set, hset).")
    ] = None
    maxlen: Annotated[
        Positive | None, ui("Max length", "Trim the stream to about this many entries (xadd).")
    ] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_template(self.key)
        if self.ttl_seconds and self.mode == "xadd":
            raise ValueError("ttl_seconds: applies to set and hset, not to xadd")
        if self.maxlen and self.mode != "xadd":
            raise ValueError("maxlen: applies to xadd only")


class RedisWrite(Sink[RedisWriteConfig]):
    spec = ProcessorSpec(
        name="redis_write",
        category="sink",
        status="beta",
        icon="database",
        title="Redis write",
        summary="Records to Redis keys (JSON), hashes or a stream, pipelined per batch.",
        inputs=("in",),
        examples=[
            {"url": "redis://cache:6379/0", "key": "order:{order_id}", "ttl_seconds": 3600},
            {"url": "redis://cache:6379/0", "mode": "hset", "key": "customer:{id}"},
            {"url": "redis://cache:6379/0", "mode": "xadd", "key": "events", "maxlen": 100000},
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.template = parse_template(self.config.key)
        self._client: aioredis.Redis | None = None

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema]:
        if (schema := inputs.get("in")) is not None and (problem := self._missing(schema)):
            raise SchemaError(problem[1], field=problem[0])
        return {}

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise RuntimeError(f"redis_write in node '{self.context.node_id}': used before open()")
        return self._client

    async def open(self) -> None:
        self._client = self.config.client(socket_timeout=30)
        try:
            await self._client.ping()  # an unreachable server fails the start, clearly
        except UNREACHABLE as exc:
            await self._client.aclose()
            raise ConnectionError(
                f"cannot connect to Redis at {self.config.server}: {exc}"
            ) from exc

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def write_async(self, batch: pa.RecordBatch) -> None:
        cfg = self.config
        if not batch.num_rows:
            return
        if problem := self._missing(batch.schema):
            raise ValueError(problem[1])
        keys, values = await asyncio.to_thread(self._prepare, batch)  # Arrow work off the loop
        # Redis takes one command per key; the pipeline sends them all in one round trip.
        pipe = self.client.pipeline(transaction=False)
        if cfg.mode == "set" and not cfg.ttl_seconds:
            pipe.mset(dict(zip(keys, values, strict=True)))  # one command for the whole batch
        else:
            for key, value in zip(keys, values, strict=True):
                if cfg.mode == "set":
                    pipe.set(key, value, ex=cfg.ttl_seconds)
                elif cfg.mode == "hset":
                    pipe.hset(key, mapping=value)
                    if cfg.ttl_seconds:
                        pipe.expire(key, cfg.ttl_seconds)
                else:
                    pipe.xadd(key, value, maxlen=cfg.maxlen, approximate=True)
        try:
            await pipe.execute()
        except UNREACHABLE as exc:
            raise ConnectionError(f"lost Redis at {cfg.server}: {exc}") from exc

    def _prepare(self, batch: pa.RecordBatch) -> tuple[list[str], list[Any]]:
        """Keys, and per record its JSON text (set) or its field -> string mapping."""
        values = batch.select(self.config.columns) if self.config.columns else batch
        payloads = _json_lines(values) if self.config.mode == "set" else _records(values)
        return self._keys(batch).to_pylist(), payloads

    def _missing(self, schema: pa.Schema) -> tuple[str, str] | None:
        """(config field, message) for the first column the key or `columns` names that the
        schema lacks."""
        key_columns = [column for _, column in self.template if column is not None]
        for field, names in (("key", key_columns), ("columns", self.config.columns or [])):
            for name in names:
                if name not in schema.names:
                    upstream = ", ".join(schema.names)
                    return (
                        field,
                        f"{field}: column {name!r} does not exist (upstream columns: {upstream})",
                    )
        return None

    def _keys(self, batch: pa.RecordBatch) -> pa.Array:
        """Every record's key from one vectorised string join over the template's parts."""
        parts: list[Any] = []
        for literal, column in self.template:
            if literal:
                parts.append(literal)
            if column is not None:
                parts.append(pc.cast(batch.column(column), pa.string()))
        if not any(isinstance(p, pa.Array) for p in parts):  # a constant key, e.g. a stream
            return pa.repeat(pa.scalar("".join(parts)), batch.num_rows)
        keys = pc.binary_join_element_wise(*parts, "")
        if keys.null_count:
            nulls = [c for _, c in self.template if c is not None and batch.column(c).null_count]
            raise ValueError(f"key: column {nulls[0]!r} is null in {keys.null_count} record(s)")
        return keys


def _json_lines(batch: pa.RecordBatch) -> list[str]:
    # pyarrow has no JSON writer; DuckDB turns each row into a JSON object in one pass.
    return query("SELECT to_json(r)::VARCHAR FROM input AS r", batch).column(0).to_pylist()


def _records(batch: pa.RecordBatch) -> list[dict[str, str]]:
    """Per record, its non-null values as strings (nested values as JSON)."""
    names = batch.schema.names
    columns = [
        query("SELECT to_json(v)::VARCHAR FROM input", pa.table({"v": c})).column(0)
        if pa.types.is_nested(c.type)
        else pc.cast(c, pa.string())
        for c in batch.columns
    ]
    return [
        {name: value for name, value in zip(names, row, strict=True) if value is not None}
        for row in zip(*(c.to_pylist() for c in columns), strict=True)
    ]
