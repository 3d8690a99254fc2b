"""Drop records whose key was already seen within a time to live."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Annotated, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import ProcessorConfig, ProcessorSpec, SchemaError, Transform, ui
from dataflow_processors._arrow import MICROS, event_micros, quote, row_numbers
from dataflow_processors._sql import query

STATE_KEY = b"dataflow.dedupe"
STATE_VERSION = 1


class DedupeConfig(ProcessorConfig, kw_only=True):
    """Passes a record on `out` unless a record with the same `key_columns` values passed
    less than `ttl_seconds` before it; the dropped records go to `duplicates` (leave it
    unconnected to discard them). Null is a value like any other in a key.

    Time is the processing time (when the batch arrives), or with `time_column` the records'
    event time (a timestamp, or seconds since the epoch); then records without an event time
    pass and are not remembered. The TTL counts from the record that passed: a key repeated
    without pause passes again once per TTL. Within a batch, records are taken in order.

    This makes at-least-once delivery idempotent downstream: a redelivered record is dropped
    as long as its key is remembered. The memory holds each key's 64-bit hash (two different
    keys sharing one, about one chance in 10^13 per record at a million keys, would drop the
    second) and is saved at checkpoints. Expired keys are forgotten as time passes; beyond
    `max_keys`, the oldest are forgotten early, and a warning counts them.
    """

    key_columns: Annotated[
        list[str], ui("Key columns", "Records with equal values here are duplicates.", min_length=1)
    ]
    ttl_seconds: Annotated[
        float,
        ui("TTL (s)", "How long a passed key keeps dropping its duplicates.", gt=0),
    ] = 3600.0
    time_column: Annotated[
        str | None,
        ui(
            "Time column",
            "Event time (timestamp or epoch seconds); empty: processing time.",
            placeholder="event_time",
        ),
    ] = None
    max_keys: Annotated[
        int,
        ui(
            "Max keys",
            "Keys remembered at most (about 100 bytes each); beyond, the oldest are forgotten.",
            ge=1,
        ),
    ] = 1_000_000


class Dedupe(Transform[DedupeConfig]):
    """State: a dict of key hash -> time (µs) the key last passed. Hashes come from one
    DuckDB call per batch, and the dict is read and written with C-level map/update over the
    batch's arrays: about half a microsecond per record whatever the number of keys, where a
    DuckDB anti-join against an Arrow table of a million keys costs ~100 ms per batch."""

    stateless = False
    spec = ProcessorSpec(
        name="dedupe",
        category="transform",
        status="beta",
        icon="copy",
        summary="Drop records whose key was seen within a time to live.",
        inputs=("in",),
        outputs=("out", "duplicates"),
        examples=[
            {"key_columns": ["order_id"], "ttl_seconds": 86400},
            {
                "key_columns": ["device_id", "reading_id"],
                "ttl_seconds": 600,
                "time_column": "event_time",
            },
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.ttl = round(self.config.ttl_seconds * MICROS)
        self.seen: dict[int, int] = {}
        self.now = -(2**62)  # the latest time seen (µs): processing or event time
        self.next_sweep = self.now
        self.evicted = 0
        #: Processing time in µs; tests replace it.
        self.clock = lambda: time.time_ns() // 1000

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        schema = inputs.get("in")
        if schema is None:
            return None
        upstream = ", ".join(schema.names) or "none"
        for i, name in enumerate(self.config.key_columns):
            if name not in schema.names:
                raise SchemaError(
                    f'column "{name}" does not exist (upstream columns: {upstream})',
                    field=f"key_columns[{i}]",
                )
        time_column = self.config.time_column
        if time_column is not None:
            if time_column not in schema.names:
                raise SchemaError(
                    f'column "{time_column}" does not exist (upstream columns: {upstream})',
                    field="time_column",
                )
            kind = schema.field(time_column).type
            if not (
                pa.types.is_timestamp(kind)
                or pa.types.is_integer(kind)
                or pa.types.is_floating(kind)
            ):
                raise SchemaError(
                    f'"{time_column}" is {kind}: the event time must be a timestamp or a number of'
                    " seconds since the epoch",
                    field="time_column",
                )
        return {"out": schema, "duplicates": schema}

    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.RecordBatch]:
        n = batch.num_rows
        keys = ", ".join(map(quote, self.config.key_columns))
        hashes = query(f"SELECT hash({keys}) AS h FROM input", batch).column(0).combine_chunks()
        if self.config.time_column is None:
            times = pa.repeat(pa.scalar(max(self.now, self.clock()), pa.int64()), n)
        else:
            times = event_micros(batch.column(self.config.time_column))
        rows = pa.table({"i": row_numbers(n), "h": hashes, "t": times})
        untimed = pc.is_null(times)
        if self.config.time_column is not None:
            rows = rows.filter(pc.invert(untimed))
        passed = self.decide(rows)
        keep = pc.or_(pc.is_in(row_numbers(n), value_set=passed.column("i")), untimed)
        if (latest := pc.max(times).as_py()) is not None:
            self.now = max(self.now, latest)
        self.forget()
        return {"out": batch.filter(keep), "duplicates": batch.filter(pc.invert(keep))}

    def decide(self, rows: pa.Table) -> pa.Table:
        """The rows that pass (i, h, t), taking each key's records in order: one passes when
        its key is new or its time is at least its last pass + TTL."""
        last = pa.array(list(map(self.seen.get, rows.column("h").to_pylist())), pa.int64())
        pending = rows.append_column("last", last)
        passed = [rows.slice(0, 0)]
        # A round settles, per key, every record up to and including its first pass; those a
        # TTL or more after that pass are the next round's. With processing time a batch
        # shares one time: one round. Hash group-bys and lookups, no sort.
        while pending.num_rows:
            t, last = pending.column("t"), pending.column("last")
            ok = pc.or_kleene(pc.is_null(last), pc.greater_equal(t, pc.add(last, self.ttl)))
            firsts = pending.filter(ok).group_by("h", use_threads=False).aggregate([("i", "min")])
            first = pending.filter(pc.is_in(pending.column("i"), value_set=firsts.column("i_min")))
            passed.append(first.select(["i", "h", "t"]))
            which = pc.index_in(pending.column("h"), value_set=first.column("h"))
            first_i, first_t = first.column("i").take(which), first.column("t").take(which)
            later = pc.and_(
                pc.greater(pending.column("i"), first_i),
                pc.greater_equal(t, pc.add(first_t, self.ttl)),
            )
            later = pc.fill_null(later, False)  # keys without a pass this round are settled
            pending = pending.filter(later).set_column(
                pending.schema.get_field_index("last"), "last", first_t.filter(later)
            )
        out = pa.concat_tables(passed).sort_by("i")  # a key passing twice keeps its later time
        self.seen.update(zip(out.column("h").to_pylist(), out.column("t").to_pylist(), strict=True))
        return out

    def forget(self) -> None:
        """Drop expired keys (a sweep every quarter TTL keeps at most 1.25 TTL of keys),
        then the oldest beyond max_keys (down to 90%, so a full memory is not swept at
        every batch)."""
        limit = self.config.max_keys
        if self.now >= self.next_sweep or len(self.seen) > limit:
            cutoff = self.now - self.ttl
            self.seen = {h: t for h, t in self.seen.items() if t > cutoff}
            self.next_sweep = self.now + self.ttl // 4
        if len(self.seen) > limit:
            table = self.table()
            newest = pc.select_k_unstable(table, max(1, int(limit * 0.9)), [("t", "descending")])
            table = table.take(newest)
            dropped = len(self.seen) - table.num_rows
            self.evicted += dropped
            self.seen = dict(
                zip(table.column("h").to_pylist(), table.column("t").to_pylist(), strict=True)
            )
            self.log.warning(
                "dedupe in node '%s': more than max_keys (%d) keys within the TTL: forgot the"
                " %d oldest (%d so far); their next records pass as new",
                self.context.node_id,
                limit,
                dropped,
                self.evicted,
            )

    def table(self) -> pa.Table:
        return pa.table(
            {
                "h": pa.array(list(self.seen), pa.uint64()),
                "t": pa.array(list(self.seen.values()), pa.int64()),
            }
        )

    # -- checkpoints ---------------------------------------------------------------------
    def snapshot_state(self) -> bytes:
        """Arrow IPC stream of (h uint64, t int64 µs) with the clock in its metadata."""
        meta = {
            "version": STATE_VERSION,
            "keys": self.config.key_columns,
            "hash": f"duckdb {duckdb.__version__}",
            "now": self.now,
            "next_sweep": self.next_sweep,
            "evicted": self.evicted,
        }
        table = self.table().replace_schema_metadata({STATE_KEY: json.dumps(meta).encode()})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()

    def restore_state(self, data: bytes) -> None:
        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
        meta = json.loads((table.schema.metadata or {}).get(STATE_KEY, b"{}"))
        if meta.get("version") != STATE_VERSION or meta.get("keys") != self.config.key_columns:
            raise ValueError(
                "dedupe: the saved state belongs to other key columns; start the run without"
                " its state"
            )
        self.now, self.next_sweep, self.evicted = meta["now"], meta["next_sweep"], meta["evicted"]
        if meta["hash"] != f"duckdb {duckdb.__version__}":
            # Another DuckDB may hash keys differently: the saved hashes would match nothing.
            self.log.warning(
                "dedupe in node '%s': state saved with %s, now duckdb %s: keys start afresh",
                self.context.node_id,
                meta["hash"],
                duckdb.__version__,
            )
            return
        self.seen = dict(
            zip(table.column("h").to_pylist(), table.column("t").to_pylist(), strict=True)
        )
