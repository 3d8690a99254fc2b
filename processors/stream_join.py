"""Join two streams on keys within an event-time window (an interval join)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import ProcessorConfig, ProcessorSpec, SchemaError, Transform, ui
from dataflow_processors._arrow import MICROS, event_micros, quote, row_numbers
from dataflow_processors._sql import connection

NEVER = -(2**62)  # the largest event time before any was seen
STATE_VERSION = 1
SIDES = ("left", "right")
INTERNAL = ("__df_t", "__df_seq", "__df_matched")


class StreamJoinConfig(ProcessorConfig, kw_only=True):
    """Joins records of the `left` and `right` inputs whose keys are equal and whose event
    times are at most `window_seconds` apart (|left time - right time| <= window), whatever
    the order they arrive in. Output: the left columns, then the right ones except its key
    columns (a name the left side uses too gets `right_prefix`). Null keys match nothing.

    Each side keeps its records while a match may still come: its watermark is the largest
    event time it has seen minus `max_out_of_orderness_seconds`, and a record leaves the
    buffer once the other side's watermark is more than the window past its time. The join
    `inner` emits matches only; `left` also emits each left record that matched nothing, with
    nulls on the right, when it leaves the buffer (or at the end of the stream). Records
    without an event time match nothing (a left join emits them at once).

    Memory: the buffers hold about (window + out-of-orderness) of each side, more while one
    side is idle, since its watermark does not move. Records later than the watermark may miss
    partners already dropped. Buffers and watermarks are saved at checkpoints.
    """

    key_columns: Annotated[
        list[str], ui("Left key columns", "Join keys on the left input.", min_length=1)
    ]
    right_key_columns: Annotated[
        list[str] | None,
        ui("Right key columns", "Join keys on the right input, in order; empty: the same names."),
    ] = None
    time_column: Annotated[
        str,
        ui(
            "Left time column",
            "Event time on the left: a timestamp, or seconds since the epoch.",
            min_length=1,
        ),
    ]
    right_time_column: Annotated[
        str | None, ui("Right time column", "Event time on the right; empty: the same name.")
    ] = None
    window_seconds: Annotated[
        float, ui("Window (s)", "Largest time difference between joined records.", ge=0)
    ]
    how: Annotated[
        Literal["inner", "left"],
        ui("Join", "inner: matches only; left: also left records that matched nothing."),
    ] = "inner"
    max_out_of_orderness_seconds: Annotated[
        float,
        ui(
            "Max out-of-orderness (s)",
            "How far behind its side's latest event time a record may arrive and still find"
            " every partner.",
            ge=0,
        ),
    ] = 0.0
    right_prefix: Annotated[
        str,
        ui("Right prefix", "Put before right column names that the left side uses too."),
    ] = "right_"

    def __post_init__(self) -> None:
        if self.right_key_columns is None:
            self.right_key_columns = list(self.key_columns)
        if len(self.right_key_columns) != len(self.key_columns):
            raise ValueError("right_key_columns: as many columns as key_columns")
        if self.right_time_column is None:
            self.right_time_column = self.time_column

    def side(self, side: str) -> tuple[list[str], str]:
        """(key columns, time column) of one input."""
        if side == "left":
            return self.key_columns, self.time_column
        return self.right_keys, self.right_time

    # __post_init__ fills the right side's empty settings in; these read them as filled.
    @property
    def right_keys(self) -> list[str]:
        return self.key_columns if self.right_key_columns is None else self.right_key_columns

    @property
    def right_time(self) -> str:
        return self.time_column if self.right_time_column is None else self.right_time_column


class StreamJoinState(msgspec.Struct, kw_only=True):
    """The checkpointed state: both buffers as Arrow IPC streams, and the clocks."""

    version: int
    config: str
    left: bytes
    right: bytes
    max_time: dict[str, int]
    seq: int


class StreamJoin(Transform[StreamJoinConfig]):
    """Buffers are Arrow tables of each side's records plus their event time (µs), arrival
    number, and (left) whether they matched; each incoming batch is joined by one DuckDB
    query against the other side's buffer."""

    stateless = False
    spec = ProcessorSpec(
        name="stream_join",
        category="transform",
        status="beta",
        icon="merge",
        summary="Join two streams on keys within an event-time window.",
        inputs=("left", "right"),
        outputs=("out",),
        examples=[
            {
                "key_columns": ["order_id"],
                "time_column": "ordered_at",
                "right_time_column": "paid_at",
                "window_seconds": 3600,
            },
            {
                "key_columns": ["session_id"],
                "time_column": "ts",
                "window_seconds": 30,
                "how": "left",
                "max_out_of_orderness_seconds": 5,
            },
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.window = round(self.config.window_seconds * MICROS)
        self.out_of_order = round(self.config.max_out_of_orderness_seconds * MICROS)
        self.buffers: dict[str, pa.Table | None] = dict.fromkeys(SIDES)
        self.max_time = dict.fromkeys(SIDES, NEVER)
        self.seq = 0  # arrival number of the next record, both sides: output order

    # -- design time ---------------------------------------------------------------------
    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        left, right = inputs.get("left"), inputs.get("right")
        if left is None or right is None:
            return None
        prefix = {"left": "", "right": "right_"}
        for side, schema in (("left", left), ("right", right)):
            keys, time_column = self.config.side(side)
            for i, name in enumerate(keys):
                require_column(schema, name, f"{prefix[side]}key_columns[{i}]", side)
            kind = require_column(schema, time_column, f"{prefix[side]}time_column", side).type
            if not (
                pa.types.is_timestamp(kind)
                or pa.types.is_integer(kind)
                or pa.types.is_floating(kind)
            ):
                raise SchemaError(
                    f'"{time_column}" is {kind}: the event time must be a timestamp or a number'
                    " of seconds since the epoch",
                    field=f"{prefix[side]}time_column",
                )
        return {"out": self.out_schema(left, right)}

    def right_names(self, left: pa.Schema, right: pa.Schema) -> list[tuple[str, str]]:
        """(right column, output name) of the right columns that go out."""
        taken = set(left.names)
        skip = {*self.config.right_keys, *INTERNAL}
        return [
            (n, self.config.right_prefix + n if n in taken else n)
            for n in right.names
            if n not in skip
        ]

    # -- the stream ----------------------------------------------------------------------
    def process(self, port: str, batch: pa.RecordBatch) -> dict[str, pa.Table]:
        # A failed batch leaves the state as it was: on_error retry must not buffer it twice.
        saved = dict(self.buffers), dict(self.max_time), self.seq
        try:
            return self.take(port, batch)
        except BaseException:
            self.buffers, self.max_time, self.seq = saved
            raise

    def take(self, port: str, batch: pa.RecordBatch) -> dict[str, pa.Table]:
        other = "right" if port == "left" else "left"
        keys, time_column = self.config.side(port)
        times = event_micros(batch.column(time_column))
        seqs = pc.add(row_numbers(batch.num_rows), self.seq)
        self.seq += batch.num_rows
        rows = pa.Table.from_batches([batch]).append_column("__df_t", times)
        rows = rows.append_column("__df_seq", seqs)
        if port == "left":
            rows = rows.append_column("__df_matched", pa.repeat(False, batch.num_rows))
        outputs = []
        if self.buffers[other] is not None and rows.num_rows:
            # Null keys and times match nothing, as in SQL.
            matches = self.join(rows, self.buffers[other], port)
            outputs.append(matches.drop_columns(["__df_ls", "__df_rs"]))
            if self.config.how == "left":
                matched = matches.column("__df_ls")
                if port == "left":
                    rows = set_matched(rows, matched)
                else:
                    self.buffers["left"] = set_matched(self.buffers["left"], matched)
        if port == "right" or self.config.how == "inner":
            # Only a left join's left side keeps what can never match, to emit it unmatched.
            joinable = pc.is_valid(times)
            for key in keys:
                joinable = pc.and_(joinable, pc.is_valid(batch.column(key)))
            rows = rows.filter(joinable)
        self.buffers[port] = append(self.buffers[port], rows)
        if (latest := pc.max(times).as_py()) is not None:
            self.max_time[port] = max(self.max_time[port], latest)
        outputs.extend(self.prune())
        return {"out": concat(outputs)} if outputs else {}

    def finish(self) -> dict[str, pa.Table]:
        left = self.buffers["left"]
        out = {}
        if self.config.how == "left" and left is not None:
            out["out"] = self.unmatched(left.filter(pc.invert(left.column("__df_matched"))))
        self.buffers = dict.fromkeys(SIDES)
        return out

    def join(self, rows: pa.Table, buffer: pa.Table, port: str) -> pa.Table:
        """Matches of the incoming rows (one side) in the other side's buffer, in arrival
        order, with both sides' arrival numbers (__df_ls, __df_rs)."""
        left, right = (rows, buffer) if port == "left" else (buffer, rows)
        pairs = zip(self.config.key_columns, self.config.right_keys, strict=True)
        on = [f"l.{quote(lk)} = r.{quote(rk)}" for lk, rk in pairs]
        on.append(f"r.__df_t BETWEEN l.__df_t - {self.window} AND l.__df_t + {self.window}")
        select = [f"l.{quote(n)}" for n in left.schema.names if n not in INTERNAL]
        select += [
            f"r.{quote(n)} AS {quote(new)}"
            for n, new in self.right_names(left.schema, right.schema)
        ]
        sql = (
            f"SELECT {', '.join(select)}, l.__df_seq AS __df_ls, r.__df_seq AS __df_rs"
            f" FROM l_side l JOIN r_side r ON {' AND '.join(on)} ORDER BY __df_ls, __df_rs"
        )
        con = connection()
        con.register("l_side", left)
        con.register("r_side", right)
        try:
            table = con.sql(sql).to_arrow_table()
        finally:
            con.unregister("l_side")
            con.unregister("r_side")
        # DuckDB may hand back other physical types (dictionaries, string views): the
        # output keeps the inputs' types.
        schema = self.out_schema(left.schema, right.schema)
        seqs = [pa.field("__df_ls", pa.int64()), pa.field("__df_rs", pa.int64())]
        return table.cast(pa.schema([*schema, *seqs]))

    def prune(self) -> list[pa.Table]:
        """Drop the records no future record of the other side can match; a left join emits
        the left ones that matched nothing."""
        out = []
        watermark = {s: self.max_time[s] - self.out_of_order for s in SIDES}
        for side, other in (("left", "right"), ("right", "left")):
            buffer = self.buffers[side]
            if buffer is None:
                continue
            gone = pc.less(pc.add(buffer.column("__df_t"), self.window), watermark[other])
            # Left rows without a time leave once the right columns are known.
            gone = pc.fill_null(gone, self.buffers["right"] is not None)
            if side == "left" and self.config.how == "left":
                lonely = buffer.filter(pc.and_(gone, pc.invert(buffer.column("__df_matched"))))
                if lonely.num_rows:
                    out.append(self.unmatched(lonely))
            buffer = buffer.filter(pc.invert(gone))
            if buffer.column(0).num_chunks > 32:
                buffer = buffer.combine_chunks()  # a chunk per batch: keep DuckDB's scans fast
            self.buffers[side] = buffer
        return out

    def out_schema(self, left: pa.Schema, right: pa.Schema) -> pa.Schema:
        fields = [f for f in left if f.name not in INTERNAL]
        fields += [right.field(n).with_name(new) for n, new in self.right_names(left, right)]
        return pa.schema(fields)

    def unmatched(self, left: pa.Table) -> pa.Table:
        """Left rows with nulls for the right columns (the left columns only while the right
        side has sent nothing: its columns are unknown)."""
        table = left.drop_columns([n for n in INTERNAL if n in left.schema.names])
        right = self.buffers["right"]
        if right is None:
            return table
        schema = self.out_schema(left.schema, right.schema)
        for field in schema:
            if field.name not in table.schema.names:
                table = table.append_column(field, pa.nulls(table.num_rows, field.type))
        return table

    # -- checkpoints ---------------------------------------------------------------------
    def fingerprint(self) -> str:
        c = self.config
        return json.dumps([c.key_columns, c.right_key_columns, c.time_column, c.right_time_column])

    def snapshot_state(self) -> bytes:
        """msgpack of StreamJoinState: each buffer an Arrow IPC stream (no columns when empty)."""
        return msgspec.msgpack.encode(
            StreamJoinState(
                version=STATE_VERSION,
                config=self.fingerprint(),
                left=write_ipc(self.buffers["left"]),
                right=write_ipc(self.buffers["right"]),
                max_time=self.max_time,
                seq=self.seq,
            )
        )

    def restore_state(self, data: bytes) -> None:
        state = msgspec.msgpack.decode(data, type=StreamJoinState)
        if state.version != STATE_VERSION or state.config != self.fingerprint():
            raise ValueError(
                "stream_join: the saved state belongs to other key or time columns; start the"
                " run without its state"
            )
        self.buffers = {"left": read_ipc(state.left), "right": read_ipc(state.right)}
        self.max_time, self.seq = dict(state.max_time), state.seq


def set_matched(rows: pa.Table, matched_seqs: pa.ChunkedArray) -> pa.Table:
    flag = pc.or_(
        rows.column("__df_matched"), pc.is_in(rows.column("__df_seq"), value_set=matched_seqs)
    )
    return rows.set_column(rows.schema.get_field_index("__df_matched"), "__df_matched", flag)


def append(buffer: pa.Table | None, rows: pa.Table) -> pa.Table:
    if buffer is None:
        return rows
    # A column that appears or disappears (JSON input) is null where it was absent.
    return pa.concat_tables([buffer, rows], promote_options="permissive")


def concat(tables: list[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="default")


def write_ipc(table: pa.Table | None) -> bytes:
    table = table if table is not None else pa.table({})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def read_ipc(data: bytes) -> pa.Table | None:
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    return table if table.num_columns else None


def require_column(schema: pa.Schema, name: str, field: str, side: str) -> pa.Field:
    if name not in schema.names:
        upstream = ", ".join(schema.names) or "none"
        raise SchemaError(
            f'column "{name}" does not exist on the {side} input (its columns: {upstream})', field
        )
    return schema.field(name)
