"""Group and aggregate a stream: running totals, or tumbling/sliding event-time windows."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from dataflow.processor import ProcessorConfig, ProcessorSpec, SchemaError, Transform, ui
from dataflow_processors._arrow import MICROS, event_micros, quote
from dataflow_processors._sql import query

Function = Literal["sum", "count", "min", "max", "avg", "count_distinct"]
#: The largest event time before any was seen: far below real times, far from overflow.
NEVER = -(2**62)
STATE_KEY = b"dataflow.aggregate"
STATE_VERSION = 1
#: Partial aggregate columns: __df_<aggregation index>_<kind>.
PARTIAL = re.compile(r"^__df_\d+_(s|c|d|min|max)$")


class Aggregation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One result column: `function` over `column`, per group (and window)."""

    function: Annotated[
        Function,
        ui("Function", "sum, count, min, max, avg, or count_distinct (distinct non-null values)."),
    ]
    column: Annotated[
        str | None,
        ui(
            "Column", "Input column; may be left out for count (counts rows).", placeholder="amount"
        ),
    ] = None
    as_: Annotated[
        str | None,
        ui("Output name", "Name of the result column; default: function_column (or count)."),
    ] = msgspec.field(default=None, name="as")

    @property
    def name(self) -> str:
        return self.as_ or (f"{self.function}_{self.column}" if self.column else self.function)


class AggregateMode(
    msgspec.Struct, tag_field="kind", kw_only=True, forbid_unknown_fields=True, frozen=True
):
    """How records are grouped in time: one subclass per kind (frozen: a default is shared)."""


class AggregateRunning(AggregateMode, tag="running", kw_only=True, frozen=True):
    """Totals over the whole stream."""

    emit: Annotated[
        Literal["updates", "final"],
        ui(
            "Emit",
            "updates = the changed groups after every batch; final = every group once, at"
            " the end of the stream.",
        ),
    ] = "updates"


class AggregateTumbling(AggregateMode, tag="tumbling", kw_only=True, frozen=True):
    """Event-time windows of `window_seconds`, one after another."""

    time_column: Annotated[
        str,
        ui(
            "Time column",
            "Event time of each record: a timestamp, or seconds since the epoch.",
            placeholder="event_time",
            min_length=1,
        ),
    ]
    window_seconds: Annotated[float, ui("Window (s)", "Length of each window.", gt=0)]
    max_out_of_orderness_seconds: Annotated[
        float,
        ui(
            "Max out-of-orderness (s)",
            "The watermark trails the largest event time seen by this much: how far out of"
            " order records may arrive and still be on time.",
            ge=0,
        ),
    ] = 0.0
    allowed_lateness_seconds: Annotated[
        float,
        ui(
            "Allowed lateness (s)",
            "Records for a window that went out still update it (and it goes out again) while"
            " the watermark is less than this past the window's end; later ones go to `late`.",
            ge=0,
        ),
    ] = 0.0


class AggregateSliding(AggregateTumbling, tag="sliding", kw_only=True, frozen=True):
    """Event-time windows of `window_seconds` starting every `slide_seconds`."""

    slide_seconds: Annotated[
        float, ui("Slide (s)", "Time between the starts of two sliding windows.", gt=0)
    ]

    def __post_init__(self) -> None:
        if self.slide_seconds > self.window_seconds:
            # A slide longer than the window would leave records in no window at all.
            raise ValueError("slide_seconds: must not exceed window_seconds")


Mode = AggregateRunning | AggregateTumbling | AggregateSliding


class AggregateConfig(ProcessorConfig, kw_only=True):
    """Groups records by `group_by` and computes `aggregations` across the whole stream (not
    batch by batch), in the way `mode` says by its `kind`.

    `running` keeps one total per group for ever (the state grows with the number of
    groups): with `emit: updates`, after each batch, the new totals of the groups that batch
    touched go out; with `emit: final`, every group goes out once, at the end of the stream.

    `tumbling` and `sliding` put each record in event-time windows by `time_column` (a
    timestamp, or seconds since the epoch): tumbling windows of `window_seconds` follow one
    another; sliding windows of `window_seconds` start every `slide_seconds`, so a record
    counts in several. Rows out: `window_start`, `window_end`, the group columns, then the
    aggregates.

    Windows close with the watermark, as in Flink: the watermark is the largest event time
    seen minus `max_out_of_orderness_seconds`, and a window goes out once the watermark
    reaches its end. A record for a window that went out still counts while the watermark is
    below window end + `allowed_lateness_seconds`: the window goes out again, updated. A
    record later than that for all its windows, or without an event time, goes unchanged to
    `late`. The end of the stream emits the windows still open.

    avg is the sum of the non-null values over their count. count_distinct keeps the distinct
    values of each open group, so its state grows with them. The state (open windows and
    their partial aggregates, the watermark) is saved at checkpoints: a restarted run goes on
    as if it had never stopped.
    """

    group_by: Annotated[
        list[str], ui("Group by", "Columns whose values form a group; empty: one group.")
    ] = []
    aggregations: Annotated[
        list[Aggregation], ui("Aggregations", "Result columns, in order.", min_length=1)
    ]
    mode: Annotated[
        Mode,
        ui("Mode", "running: totals over the whole stream; tumbling or sliding: time windows."),
    ] = AggregateRunning()

    def __post_init__(self) -> None:
        for i, agg in enumerate(self.aggregations):
            if agg.column is None and agg.function != "count":
                raise ValueError(f"aggregations[{i}].column: {agg.function} needs a column")
        names = [*self.group_by, *(a.name for a in self.aggregations)]
        if isinstance(self.mode, AggregateTumbling):
            names += ["window_start", "window_end"]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"output column {dupes[0]!r} appears twice (rename it with `as`)")


class Aggregate(Transform[AggregateConfig]):
    """The state is a table with one row per open (window, group) of partial aggregates,
    plus the largest event time seen. DuckDB reduces each batch to partials, which are
    merged with the state rows of the groups the batch touched (found by a hash of the
    group key): a batch costs its size plus one vectorised pass over the state."""

    stateless = False
    spec = ProcessorSpec(
        name="aggregate",
        category="transform",
        status="beta",
        icon="sigma",
        summary="Group and aggregate records: running totals or event-time windows.",
        inputs=("in",),
        outputs=("out", "late"),
        examples=[
            {
                "group_by": ["country"],
                "aggregations": [
                    {"function": "sum", "column": "amount", "as": "total"},
                    {"function": "count", "as": "orders"},
                ],
            },
            {
                "group_by": ["customer_id"],
                "aggregations": [{"function": "avg", "column": "amount"}],
                "mode": {
                    "kind": "tumbling",
                    "time_column": "event_time",
                    "window_seconds": 60,
                    "max_out_of_orderness_seconds": 5,
                    "allowed_lateness_seconds": 30,
                },
            },
            {
                "aggregations": [{"function": "count_distinct", "column": "user_id"}],
                "mode": {
                    "kind": "sliding",
                    "time_column": "event_time",
                    "window_seconds": 3600,
                    "slide_seconds": 300,
                },
            },
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        c = self.config
        mode = c.mode
        self.kind = str(mode.__struct_config__.tag)
        #: Running mode: what goes out; windows go out as they close.
        self.emit = mode.emit if isinstance(mode, AggregateRunning) else "updates"
        self.windowed = isinstance(mode, AggregateTumbling)
        self.time_column = mode.time_column if isinstance(mode, AggregateTumbling) else ""
        self.size = self.slide = self.out_of_order = self.lateness = 0
        if isinstance(mode, AggregateTumbling):
            self.size = round(mode.window_seconds * MICROS)
            slide = mode.slide_seconds if isinstance(mode, AggregateSliding) else None
            self.slide = round((slide or mode.window_seconds) * MICROS)
            self.out_of_order = round(mode.max_out_of_orderness_seconds * MICROS)
            self.lateness = round(mode.allowed_lateness_seconds * MICROS)
        self.keys = ["__df_ws"] * self.windowed + [quote(g) for g in c.group_by]
        self.state: pa.Table | None = None  # None until the first batch sets the types
        self.max_time = NEVER
        self.time_type: pa.DataType = pa.timestamp("us", "UTC")

    # -- design time ---------------------------------------------------------------------
    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        schema = inputs.get("in")
        if schema is None:
            return None
        c = self.config
        for i, name in enumerate(c.group_by):
            require_column(schema, name, f"group_by[{i}]")
        for i, agg in enumerate(c.aggregations):
            if agg.column is None:
                continue
            kind = require_column(schema, agg.column, f"aggregations[{i}].column").type
            if agg.function in ("sum", "avg") and not is_number(kind):
                raise SchemaError(
                    f'{agg.function} needs a number column; "{agg.column}" is {kind}',
                    field=f"aggregations[{i}].column",
                )
        if self.windowed:
            kind = require_column(schema, self.time_column, "mode.time_column").type
            if not (pa.types.is_timestamp(kind) or is_number(kind)):
                raise SchemaError(
                    f'"{self.time_column}" is {kind}: the event time must be a timestamp or a'
                    " number of seconds since the epoch",
                    field="mode.time_column",
                )
        # The real code path over no rows gives exactly the schema the stream will carry.
        probe = Aggregate(c, self.context)
        out = probe.transform(pa.RecordBatch.from_pylist([], schema=schema))
        table = out["out"] if "out" in out else probe.finish()["out"]
        return {"out": table.schema, "late": schema}

    # -- the stream ----------------------------------------------------------------------
    def transform(self, batch: pa.RecordBatch) -> dict[str, pa.Table | pa.RecordBatch]:
        # A failed batch leaves the state as it was: on_error retry must not count it twice.
        saved = self.state, self.max_time, self.time_type
        try:
            return self.fold(batch)
        except BaseException:
            self.state, self.max_time, self.time_type = saved
            raise

    def fold(self, batch: pa.RecordBatch) -> dict[str, pa.Table | pa.RecordBatch]:
        if not self.windowed:
            merged = self.merge(self.partials(batch))
            return {"out": self.finalize(merged)} if self.emit == "updates" else {}
        column = batch.column(self.time_column)
        self.time_type = window_type(column.type)
        times = event_micros(column)
        marks = self.row_watermarks(times)
        late = self.too_late(times, marks)
        keep = pc.invert(late)
        on_time = batch.append_column("__df_t", times).append_column("__df_wm", marks)
        merged = self.merge(self.partials(on_time.filter(keep)))
        if (latest := pc.max(times).as_py()) is not None:
            self.max_time = max(self.max_time, latest)
        return {"out": self.fire(merged), "late": batch.filter(late)}

    def finish(self) -> dict[str, pa.Table]:
        if self.state is None:
            return {}
        if self.windowed:
            # Windows the watermark never reached; those that went out are up to date.
            rest = self.state.filter(pc.invert(self.state.column("__df_emitted")))
        elif self.emit == "final":
            rest = self.state
        else:
            return {}
        self.state = self.state.slice(0, 0)
        return {"out": self.finalize(rest)}

    # -- windows and watermarks -----------------------------------------------------------
    def row_watermarks(self, times: pa.Array) -> pa.Array:
        """The watermark each row meets, from the largest event time of the rows before it
        (earlier batches' too): whether a row is late does not depend on batch boundaries."""
        seen = pc.fill_null(times, NEVER)
        first = pa.array([self.max_time], pa.int64())
        before = pa.concat_arrays([first, seen.slice(0, len(seen) - 1)]) if len(seen) else seen
        return pc.subtract(pc.cumulative_max(before), self.out_of_order)

    def too_late(self, times: pa.Array, marks: pa.Array) -> pa.Array:
        """Rows whose last window (the one ending last) is past its allowed lateness, and
        rows without an event time."""
        last_start = pc.subtract(times, floor_mod(times, self.slide))
        closes = pc.add(last_start, self.size + self.lateness)
        return pc.fill_null(pc.less_equal(closes, marks), True)

    def fire(self, merged: pa.Table) -> pa.Table:
        """Windows the watermark passed go out when new or updated, and are dropped once
        their allowed lateness is over."""
        state = self.state
        assert state is not None
        watermark = self.max_time - self.out_of_order
        ends = pc.add(state.column("__df_ws"), self.size)
        closed = pc.less_equal(ends, watermark)
        emitted = state.column("__df_emitted")
        touched = pc.is_in(state.column("__df_h"), value_set=merged.column("__df_h"))
        out = self.finalize(state.filter(pc.and_(closed, pc.or_(pc.invert(emitted), touched))))
        state = state.set_column(
            state.schema.get_field_index("__df_emitted"), "__df_emitted", pc.or_(emitted, closed)
        )
        self.state = state.filter(pc.greater(pc.add(ends, self.lateness), watermark))
        return out

    # -- partial aggregates ---------------------------------------------------------------
    def partials(self, rows: pa.RecordBatch) -> pa.Table:
        """One row per (window, group) of `rows`: the group key, its hash, the partial
        aggregates (avg as sum and count, count_distinct as the list of values)."""
        parts = [f"{expr} AS {name}" for name, expr in self.partial_columns(rows.schema)]
        source = "input"
        if self.windowed:
            # Each window a row belongs to: the last one, then every `slide` earlier while it
            # still covers the row; windows past their lateness take no more rows.
            last = f"__df_t - ((__df_t % {self.slide}) + {self.slide}) % {self.slide}"
            source = (
                f"(SELECT *, {last} - __df_k * {self.slide} AS __df_ws"
                f" FROM input, range({math.ceil(self.size / self.slide)}) AS __df_r(__df_k))"
                f" WHERE __df_ws + {self.size} > __df_t"
                f" AND __df_ws + {self.size + self.lateness} > __df_wm"
            )
        emitted = ["false AS __df_emitted"] if self.windowed else []
        select = ", ".join([self.hash_sql(), *self.keys, *parts, *emitted])
        group = ", ".join(self.keys) or "()"
        return query(f"SELECT {select} FROM {source} GROUP BY {group} HAVING count(*) > 0", rows)

    def hash_sql(self) -> str:
        return f"hash({', '.join(self.keys)}) AS __df_h" if self.keys else "0::UBIGINT AS __df_h"

    def partial_columns(self, schema: pa.Schema) -> list[tuple[str, str]]:
        cols: list[tuple[str, str]] = []
        for i, agg in enumerate(self.config.aggregations):
            arg, p = quote(agg.column) if agg.column else "*", f"__df_{i}"
            if agg.function in ("sum", "avg"):
                kind = schema.field(agg.column).type
                # DuckDB sums integers into HUGEINT; the totals of a stream fit a BIGINT.
                if agg.function == "avg" or pa.types.is_floating(kind):
                    cols.append((f"{p}_s", f"sum({arg})::DOUBLE"))
                elif pa.types.is_integer(kind) or pa.types.is_null(kind):
                    cols.append((f"{p}_s", f"sum({arg})::BIGINT"))
                else:
                    cols.append((f"{p}_s", f"sum({arg})"))
            if agg.function in ("count", "avg"):
                cols.append((f"{p}_c", f"count({arg})"))
            if agg.function in ("min", "max"):
                cols.append((f"{p}_{agg.function}", f"{agg.function}({arg})"))
            if agg.function == "count_distinct":
                cols.append((f"{p}_d", f"list(DISTINCT {arg}) FILTER (WHERE {arg} IS NOT NULL)"))
        return cols

    def merge(self, partials: pa.Table) -> pa.Table:
        """Fold a batch's partials into the state; returns the merged rows (the groups the
        batch touched, with their new partials)."""
        state = partials.slice(0, 0) if self.state is None else self.state
        if partials.schema != state.schema:
            # A batch of nulls types a column `null`; a later batch says what it really is.
            schema = pa.unify_schemas([state.schema, partials.schema], promote_options="permissive")
            state, partials = state.cast(schema), partials.cast(schema)
        touched = pc.is_in(state.column("__df_h"), value_set=partials.column("__df_h"))
        # A hash collision only brings an untouched group into the GROUP BY, which keys on
        # the real values: it comes out unchanged.
        both = pa.concat_tables([partials, state.filter(touched)])
        cols = [self.hash_sql(), *self.keys]
        for field in state.schema:
            if PARTIAL.match(field.name):
                cols.append(f"{merge_sql(field.name, field.type)} AS {field.name}")
        if self.windowed:
            cols.append("bool_or(__df_emitted) AS __df_emitted")
        group = f" GROUP BY {', '.join(self.keys)}" if self.keys else ""
        merged = query(f"SELECT {', '.join(cols)} FROM input{group}", both).cast(state.schema)
        self.state = pa.concat_tables([state.filter(pc.invert(touched)), merged])
        return merged

    def finalize(self, rows: pa.Table) -> pa.Table:
        """Partials to result columns, ordered by window and group."""
        c = self.config
        out = ["__df_ws AS window_start", f"__df_ws + {self.size} AS window_end"]
        out = out if self.windowed else []
        out += [quote(g) for g in c.group_by]
        for i, agg in enumerate(c.aggregations):
            p = f"__df_{i}"
            expr = {
                "sum": f"{p}_s",
                "count": f"{p}_c",
                "min": f"{p}_min",
                "max": f"{p}_max",
                "avg": f"CASE WHEN {p}_c > 0 THEN {p}_s / {p}_c END",
                "count_distinct": f"coalesce(len({p}_d), 0)::BIGINT",
            }[agg.function]
            out.append(f"{expr} AS {quote(agg.name)}")
        order = f" ORDER BY {', '.join(self.keys)}" if self.keys else ""
        table = query(f"SELECT {', '.join(out)} FROM input{order}", rows)
        if self.windowed:
            for name in ("window_start", "window_end"):
                i = table.schema.get_field_index(name)
                bounds = table.column(i).combine_chunks().view(self.time_type)
                table = table.set_column(i, pa.field(name, self.time_type), bounds)
        return table

    # -- checkpoints ---------------------------------------------------------------------
    def fingerprint(self) -> str:
        """What the state's meaning depends on: restoring under another config is refused."""
        c = self.config
        aggs = [[a.function, a.column] for a in c.aggregations]
        return json.dumps([self.kind, c.group_by, aggs, self.size, self.slide])

    def snapshot_state(self) -> bytes:
        """Arrow IPC stream of the state table; watermark and time zone in its metadata."""
        table = self.state if self.state is not None else pa.table({})
        meta = {
            "version": STATE_VERSION,
            "config": self.fingerprint(),
            "max_time": self.max_time,
            "time_tz": self.time_type.tz,
        }
        return write_ipc(table, {STATE_KEY: json.dumps(meta).encode()})

    def restore_state(self, data: bytes) -> None:
        table = read_ipc(data)
        meta = json.loads((table.schema.metadata or {}).get(STATE_KEY, b"{}"))
        if meta.get("version") != STATE_VERSION or meta.get("config") != self.fingerprint():
            raise ValueError(
                "aggregate: the saved state belongs to another configuration (group_by,"
                " aggregations, mode or window changed); start the run without its state"
            )
        self.max_time = meta["max_time"]
        self.time_type = pa.timestamp("us", meta["time_tz"])
        if table.num_columns:
            # Hashes are recomputed: they need not survive a DuckDB upgrade.
            keep = [n for n in table.schema.names if n != "__df_h"]
            self.state = query(
                f"SELECT {self.hash_sql()}, {', '.join(map(quote, keep))} FROM input",
                table.replace_schema_metadata(None),
            ).cast(table.schema.remove_metadata())
        else:
            self.state = None


def merge_sql(name: str, kind: pa.DataType) -> str:
    """How partials of one kind (by the column's suffix) combine."""
    if name.endswith("_s"):
        if pa.types.is_integer(kind):
            return f"sum({name})::BIGINT"
        return f"sum({name})::DOUBLE" if pa.types.is_floating(kind) else f"sum({name})"
    if name.endswith("_c"):
        return f"sum({name})::BIGINT"
    if name.endswith("_d"):
        return f"list_distinct(flatten(list({name}) FILTER (WHERE {name} IS NOT NULL)))"
    return f"{name[-3:]}({name})"  # _min, _max


def write_ipc(table: pa.Table, metadata: dict[bytes, bytes]) -> bytes:
    table = table.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def read_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def require_column(schema: pa.Schema, name: str, field: str) -> pa.Field:
    if name not in schema.names:
        upstream = ", ".join(schema.names) or "none"
        raise SchemaError(f'column "{name}" does not exist (upstream columns: {upstream})', field)
    return schema.field(name)


def is_number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def window_type(kind: pa.DataType) -> pa.DataType:
    """Window bounds keep a timestamp column's time zone; epoch seconds give UTC."""
    return pa.timestamp("us", kind.tz if pa.types.is_timestamp(kind) else "UTC")


def floor_mod(values: pa.Array, divisor: int) -> pa.Array:
    """values mod divisor in [0, divisor), also for negative values (before 1970)."""
    rem = pc.subtract(values, pc.multiply(pc.divide(values, divisor), divisor))
    return pc.if_else(pc.less(rem, 0), pc.add(rem, divisor), rem)
