"""Synthetic records from a column spec: deterministic, vectorised, optionally rate-limited."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import ProcessorConfig, ProcessorSpec, Source, ui
from dataflow_processors._fields import BatchSize
from dataflow_processors._random import Draws, strings, u64


class GenerateColumn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, tag_field="kind"):
    """What every kind of generated column has."""

    name: Annotated[str, ui("Name", "Column name in the output.", min_length=1)]
    null_fraction: Annotated[
        float, ui("Null fraction", "Share of rows left null, from 0 to 1.", ge=0, le=1)
    ] = 0.0

    def __post_init__(self) -> None:
        lo, hi = getattr(self, "min", None), getattr(self, "max", None)
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"column {self.name!r}: min ({lo}) is greater than max ({hi})")


class GenerateInt(GenerateColumn, tag="int", kw_only=True):
    """Uniform random integers from `min` to `max`, both included (int64)."""

    min: Annotated[int, ui("Minimum")] = 0
    max: Annotated[int, ui("Maximum")] = 100
    arrow_type = pa.int64()

    def values(self, d: Draws) -> pa.Array:
        return d.integers(self.min, self.max)


class GenerateFloat(GenerateColumn, tag="float", kw_only=True):
    """Uniform random doubles from `min` (included) to `max` (excluded)."""

    min: Annotated[float, ui("Minimum")] = 0.0
    max: Annotated[float, ui("Maximum")] = 1.0
    decimals: Annotated[
        Annotated[int, msgspec.Meta(ge=0)] | None, ui("Decimals", "Round to this many decimals.")
    ] = None
    arrow_type = pa.float64()

    def values(self, d: Draws) -> pa.Array:
        x = pc.add(pc.multiply(d.uniform(), self.max - self.min), self.min)
        return x if self.decimals is None else pc.round(x, self.decimals)


class GenerateChoice(GenerateColumn, tag="choice", kw_only=True):
    """One of `choices` per row (string), uniformly or in proportion to `weights`."""

    choices: Annotated[list[str], ui("Choices", min_length=1)]
    weights: Annotated[
        list[Annotated[float, msgspec.Meta(ge=0)]] | None,
        ui("Weights", "Relative weight of each choice, same order; empty = all equal."),
    ] = None
    arrow_type = pa.string()

    def __post_init__(self) -> None:
        if self.weights is not None and (
            len(self.weights) != len(self.choices) or not sum(self.weights)
        ):
            raise ValueError(f"column {self.name!r}: weights need one positive weight per choice")

    def values(self, d: Draws) -> pa.Array:
        if not self.weights:
            index = d.integers(0, len(self.choices) - 1)
        else:  # index = how many cumulative-weight boundaries u lies above: k-1 passes
            u, total = d.uniform(), sum(self.weights)
            index = pa.repeat(pa.scalar(0, pa.int64()), len(u))
            for bound in itertools.accumulate(self.weights[:-1]):
                index = pc.add(index, pc.cast(pc.greater_equal(u, bound / total), pa.int64()))
        return pc.take(pa.array(self.choices, pa.string()), index)


TIME = "RFC 3339 time, such as 2024-01-01T00:00:00Z; empty = when the batch is generated."


class GenerateTimestamp(GenerateColumn, tag="timestamp", kw_only=True):
    """Uniform random UTC times from `min` to `max`; an empty bound is the generation time."""

    min: Annotated[datetime | None, ui("Earliest", TIME, examples=["2024-01-01T00:00:00Z"])] = None
    max: Annotated[datetime | None, ui("Latest", TIME)] = None
    arrow_type = pa.timestamp("us", tz="UTC")

    def values(self, d: Draws) -> pa.Array:
        def us(t: datetime | None) -> int:
            if t is None:
                return d.now_us
            return round(t.replace(tzinfo=t.tzinfo or UTC).timestamp() * 1e6)  # naive = UTC

        lo = us(self.min)
        return pc.cast(d.integers(lo, max(lo, us(self.max))), self.arrow_type)


class GenerateUuid(GenerateColumn, tag="uuid", kw_only=True):
    """Random version-4 UUIDs as strings (reproducible from the seed)."""

    arrow_type = pa.string()

    def values(self, d: Draws) -> pa.Array:
        n, digits = len(d.records), d.codes(32, 4, b"0123456789abcdef")
        digits[12] = pa.repeat(pa.scalar(ord("4"), pa.uint8()), n)
        digits[16] = pc.take(
            pa.array(list(b"89ab"), pa.uint8()), pc.bit_wise_and(d.bits(9), u64(3))
        )
        dash = pa.repeat(pa.scalar(ord("-"), pa.uint8()), n)
        return strings(
            [
                *digits[:8],
                dash,
                *digits[8:12],
                dash,
                *digits[12:16],
                dash,
                *digits[16:20],
                dash,
                *digits[20:],
            ]
        )


class GenerateSequence(GenerateColumn, tag="sequence", kw_only=True):
    """`start`, `start + step`, ... counted over the whole run (int64), like an id column."""

    start: Annotated[int, ui("Start")] = 1
    step: Annotated[int, ui("Step")] = 1
    arrow_type = pa.int64()

    def values(self, d: Draws) -> pa.Array:
        index = pc.subtract(pc.cast(d.records, pa.int64()), 1)
        return pc.add(pc.multiply(index, self.step), self.start)


class GenerateString(GenerateColumn, tag="string", kw_only=True):
    """Random lowercase letters and digits after `prefix`, `min_length` to `max_length` long."""

    prefix: Annotated[str, ui("Prefix")] = ""
    min_length: Annotated[int, ui("Shortest", ge=0, le=64)] = 8
    max_length: Annotated[int, ui("Longest", ge=0, le=64)] = 8
    arrow_type = pa.string()

    def __post_init__(self) -> None:
        if self.min_length > self.max_length:
            raise ValueError(f"column {self.name!r}: min_length is greater than max_length")

    def values(self, d: Draws) -> pa.Array:
        n, prefix = len(d.records), self.prefix.encode()
        codes = [pa.repeat(pa.scalar(b, pa.uint8()), n) for b in prefix]
        codes += d.codes(self.max_length, 5, b"abcdefghijklmnopqrstuvwxyz234567", stream=16)
        if not codes:
            return pa.repeat(pa.scalar(""), n)
        if self.min_length == self.max_length:
            return strings(codes)
        return strings(codes, pc.add(d.integers(self.min_length, self.max_length), len(prefix)))


Column = (
    GenerateInt
    | GenerateFloat
    | GenerateChoice
    | GenerateTimestamp
    | GenerateUuid
    | GenerateSequence
    | GenerateString
)


class GenerateConfig(ProcessorConfig, kw_only=True):
    """Synthetic records, one column per entry of `columns`; `kind` picks how values are drawn.

    The same seed always gives the same records, and a restarted run continues the sequence.
    """

    columns: Annotated[list[Column], ui("Columns", "Output columns, in order.", min_length=1)]
    seed: Annotated[int, ui("Seed", "Same seed, same records.", ge=0)] = 0
    count: Annotated[int, ui("Records", "Stop after this many records; 0 = never stop.", ge=0)] = 0
    batch_size: BatchSize = 10_000
    rate: Annotated[float, ui("Rate (records/s)", "Upper limit; 0 = no limit.", ge=0)] = 0.0

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"columns: duplicate name {dupes[0]!r}")


class Generate(Source[GenerateConfig]):
    spec = ProcessorSpec(
        name="generate",
        category="source",
        status="stable",
        icon="sparkles",
        summary="Synthetic records from a column spec.",
        outputs=("out",),
        examples=[
            {
                "count": 1000,
                "seed": 7,
                "columns": [
                    {"name": "order_id", "kind": "sequence"},
                    {"name": "amount", "kind": "float", "min": 1, "max": 500, "decimals": 2},
                    {
                        "name": "status",
                        "kind": "choice",
                        "choices": ["paid", "open", "refunded"],
                        "weights": [8, 3, 1],
                    },
                ],
            },
            {
                "rate": 100,
                "columns": [
                    {"name": "event_id", "kind": "uuid"},
                    {"name": "at", "kind": "timestamp"},
                    {
                        "name": "user",
                        "kind": "string",
                        "prefix": "user_",
                        "min_length": 4,
                        "max_length": 6,
                    },
                    {"name": "score", "kind": "int", "min": 0, "max": 10, "null_fraction": 0.1},
                ],
            },
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.produced = 0

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.config.columns])

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema]:
        return {"out": self.schema}

    def offset(self) -> int:
        return self.produced

    def restore(self, offset: Any) -> None:
        self.produced = int(offset or 0)

    def make_batch(self, start: int, n: int) -> pa.RecordBatch:
        """Records start+1 .. start+n: a pure function of the config and the record numbers."""
        records = pc.cumulative_sum(pa.repeat(u64(1), n), start=u64(start))
        now_us = time.time_ns() // 1000
        arrays = []
        for column in self.config.columns:
            draws = Draws(records, self.config.seed, column.name, now_us)
            values = column.values(draws)
            if column.null_fraction:
                values = pc.if_else(
                    pc.less(draws.uniform(255), column.null_fraction),
                    pa.scalar(None, column.arrow_type),
                    values,
                )
            arrays.append(values)
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        cfg = self.config
        # With a rate limit, batches shrink so that about ten go out per second: a slow
        # generator then trickles records instead of bursting once a minute.
        size = (
            min(cfg.batch_size, max(1, math.floor(cfg.rate / 10))) if cfg.rate else cfg.batch_size
        )
        started, first = time.monotonic(), self.produced
        while not cfg.count or self.produced < cfg.count:
            n = min(size, cfg.count - self.produced) if cfg.count else size
            batch = await asyncio.to_thread(self.make_batch, self.produced, n)
            if cfg.rate:
                await asyncio.sleep(started + (self.produced - first) / cfg.rate - time.monotonic())
            self.produced += n
            yield batch
