"""Read CSV, JSON lines or Parquet files matching a path or glob; optionally watch for more."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from dataflow.processor import ProcessorConfig, ProcessorSpec, SchemaError, Source, ui
from dataflow.processor.files import GlobTooLarge
from dataflow_processors import _text
from dataflow_processors._fields import BatchSize

ColumnType = Literal[
    "string",
    "bool",
    "int32",
    "int64",
    "float",
    "double",
    "date32",
    "timestamp[s]",
    "timestamp[ms]",
    "timestamp[us]",
]
FAILURE_SCHEMA = pa.schema(
    [("file", pa.string()), ("line", pa.int64()), ("raw", pa.string()), ("error", pa.string())]
)
#: Block size of Arrow's streaming CSV reader, which reads 32 blocks ahead: 32 MiB at most.
STREAM_BLOCK_BYTES = 1 << 20
SAMPLE_BYTES = 1 << 20  # types are inferred from each file's first MiB, as Arrow's reader does
Pieces = Iterator[tuple[list[pa.Table], list[_text.BadRecord]]]


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with the columns of `schema`, in its order; missing ones null."""
    columns = [
        table.column(f.name) if f.name in table.column_names else pa.nulls(len(table), f.type)
        for f in schema
    ]
    return pa.table(columns, schema=schema)


def _even_batches(table: pa.Table, most: int) -> list[pa.RecordBatch]:
    """The table cut into batches of at most `most` rows, of even sizes: a block of 1.2x
    `most` rows gives two of 0.6x rather than a full one and a sliver, and a table parsed
    in several chunks is joined first. Every batch costs downstream nodes a call whatever
    its size (a DuckDB query is ~1 ms of fixed cost), so slivers are worth avoiding."""
    pieces = -(-table.num_rows // most)
    if not pieces:
        return []
    if table.num_columns and table.column(0).num_chunks > 1:
        table = table.combine_chunks()
    return table.to_batches(max_chunksize=-(-table.num_rows // pieces))


class ReadFileConfig(ProcessorConfig, kw_only=True):
    """Reads every file matching `path`, in name order, then ends; with `watch`, keeps
    listing and reads new files as they land. Memory stays bounded: files are parsed in
    blocks, on several threads.

    CSV and JSON-lines columns and types come from the first MiB of the first file (empty
    columns become strings; `column_types` pins types) and hold for every file: CSV columns
    are matched by header name, missing ones are null. A bad record (wrong number of CSV
    columns, a value that does not convert, invalid JSON) fails the run naming file and
    line, or with `on_error: route` goes to the `failure` port as `file`, `line`, `raw`,
    `error` while the rest read on (`drop` skips and logs it).
    """

    path: Annotated[
        str,
        ui(
            "Path",
            "A file or a glob (`*`, `?`, `**` for any depth). Relative paths start from the"
            " server's working directory. Names starting with `.` are not matched, so files"
            " still being written under such a name (write_file does) are never read half-done.",
            placeholder="data/orders-*.csv",
            min_length=1,
        ),
    ]
    format: Annotated[Literal["csv", "jsonl", "parquet"], ui("Format")] = "csv"
    header: Annotated[
        bool, ui("Header row", "CSV: the first line names the columns; else f0, f1, ...")
    ] = True
    delimiter: Annotated[
        str, ui("Delimiter", "CSV field separator.", min_length=1, max_length=1)
    ] = ","
    quote_char: Annotated[
        str, ui("Quote character", "CSV; empty = values are never quoted.", max_length=1)
    ] = '"'
    column_types: Annotated[
        dict[str, ColumnType],
        ui("Column types", "CSV and JSON lines: column name -> type, instead of inferring."),
    ] = {}
    batch_size: BatchSize = 65_536
    block_size: Annotated[
        int, ui("Block size", "Bytes parsed at a time.", advanced=True, ge=4096)
    ] = 4 << 20
    watch: Annotated[bool, ui("Watch", "Never end: pick up new matching files.")] = False
    poll_seconds: Annotated[
        float, ui("Poll interval (s)", "How often to list again when watching.", gt=0)
    ] = 1.0


class ReadFile(Source[ReadFileConfig]):
    spec = ProcessorSpec(
        name="read_file",
        category="source",
        status="stable",
        icon="file-input",
        summary="Read CSV, JSON lines or Parquet files, once or as they land.",
        outputs=("out",),
        examples=[
            {"path": "data/orders-*.csv", "column_types": {"amount": "double"}},
            {"path": "incoming/**/*.jsonl", "format": "jsonl", "watch": True, "on_error": "route"},
            {"path": "/srv/exports/events.parquet", "format": "parquet", "batch_size": 10000},
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.done: list[str] = []
        self.current: str | None = None
        self.position = self.failed = 0  # records of `current` sent to out / failure
        self.skip = 0  # records of `current` still to pass over after a restore
        self.schema: pa.Schema | None = None

    # -- offsets -----------------------------------------------------------------------
    def offset(self) -> dict[str, Any]:
        return {
            "files_done": list(self.done),
            "current": self.current,
            "position": self.position,
            "failed": self.failed,
        }

    def restore(self, offset: Any) -> None:
        offset = offset or {}
        self.done = list(offset.get("files_done", []))
        self.current = offset.get("current")
        self.position, self.failed = offset.get("position", 0), offset.get("failed", 0)

    # -- schemas -----------------------------------------------------------------------
    def files(self) -> list[str]:
        # Bounded (a huge tree or a symlink loop ends with a clear error) and confined to
        # the server's file roots, each match included.
        return self.context.reach.glob(self.config.path)

    def confine(self) -> None:
        self.allowed_path(self.config.path, "path", pattern=True)

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema] | None:
        try:
            files = self.files()
        except (GlobTooLarge, PermissionError) as exc:
            raise SchemaError(str(exc), field="path") from exc
        if not files:
            return None  # files may land later
        try:
            schema = self.stream_schema(files)
        except (OSError, pa.ArrowException) as exc:
            raise SchemaError(f"cannot read {self.config.path}: {exc}", field="path") from exc
        if schema is None:
            return None
        if unknown := sorted(set(self.config.column_types) - set(schema.names)):
            message = f"column_types: no column {unknown[0]!r} in {self.config.path}"
            raise SchemaError(message, field="column_types")
        ports = {"out": schema}
        if self.config.on_error == "route":
            ports["failure"] = FAILURE_SCHEMA
        return ports

    @property
    def quote(self) -> bytes:
        return self.config.quote_char.encode() if self.config.format == "csv" else b""

    @property
    def csv_options(self) -> pcsv.ParseOptions:
        cfg = self.config
        quoted = bool(cfg.quote_char)
        return pcsv.ParseOptions(
            delimiter=cfg.delimiter, quote_char=cfg.quote_char or False, newlines_in_values=quoted
        )

    def parser(
        self, names: list[str] | None, types: pa.Schema | None = None
    ) -> Callable[[pa.Buffer], pa.Table]:
        """Parse a buffer of whole records (no header); types are inferred when not given."""
        if self.config.format == "jsonl":
            unexpected = "ignore" if types else "infer"  # ignore: keep one schema per file
            json = pjson.ParseOptions(explicit_schema=types, unexpected_field_behavior=unexpected)
            return lambda buf: pjson.read_json(pa.BufferReader(buf), parse_options=json)
        read = pcsv.ReadOptions(column_names=names, autogenerate_column_names=names is None)
        parse, convert = self.csv_options, pcsv.ConvertOptions(column_types=types)
        return lambda buf: pcsv.read_csv(
            pa.BufferReader(buf), read_options=read, parse_options=parse, convert_options=convert
        )

    def header(self, head: bytes) -> tuple[int, list[str] | None]:
        """The length of a CSV file's header line and the names in it."""
        if self.config.format != "csv" or not self.config.header:
            return 0, None
        end = _text.first_record_end(head, self.quote)
        if not head[:end].strip():
            return end, None
        table = pcsv.read_csv(pa.BufferReader(head[:end]), parse_options=self.csv_options)
        return end, table.column_names

    def stream_schema(self, files: list[str]) -> pa.Schema | None:
        """The schema of the first file that has columns: it holds for the whole stream."""
        return next((s for s in map(self.file_schema, files) if len(s)), None)

    def file_schema(self, path: str) -> pa.Schema:
        """Names and types from a file's first MiB, with `column_types` applied."""
        if self.config.format == "parquet":
            return pq.read_schema(path)
        with open(path, "rb") as f:
            head = f.read(2 * SAMPLE_BYTES)
        header, names = self.header(head)
        limit = header + SAMPLE_BYTES
        end = _text.last_record_end(head, header, limit, self.quote) if len(head) > limit else 0
        sample = head[header : end if end > header else None]
        tables, _ = _text.parse(sample, 1, self.parser(names), self.quote)
        inferred = tables[0].schema if tables else pa.schema([])
        with contextlib.suppress(pa.ArrowException):  # pieces around bad records may disagree
            inferred = pa.unify_schemas([t.schema for t in tables], promote_options="permissive")
        types = {f.name: f.type for f in inferred} or dict.fromkeys(names or [], pa.null())
        for name, kind in self.config.column_types.items():
            if name in types or self.config.format == "jsonl":
                types[name] = pa.type_for_alias(kind)
        # An empty column gives no hint: text is the one type every value fits.
        return pa.schema([(k, pa.string() if t == pa.null() else t) for k, t in types.items()])

    # -- reading -----------------------------------------------------------------------
    def plan(self, path: str, head: bytes, schema: pa.Schema) -> tuple[int, pa.Schema, bool]:
        """Where a text file's records start, the schema to parse them with (the file's own
        column order, the stream's types) and whether to conform them to the stream's."""
        header, names = self.header(head)
        names = names or schema.names
        if names != schema.names:  # CSV columns are matched by name, not position
            self.log.info("%s: columns %s, expected %s", path, names, schema.names)
        if self.config.format != "csv":
            return header, schema, False
        types = {f.name: f.type for f in schema}
        return (
            header,
            pa.schema([(n, types.get(n, pa.string())) for n in names]),
            names != schema.names,
        )

    def stream_csv(self, path: str, schema: pa.Schema) -> Iterator[pa.Table]:
        """A CSV file through Arrow's streaming reader: it finds record ends (quoted newlines
        included) and parses block after block without holding the GIL, so the Python work of
        the careful path below (block splitting, quote counting) drops out of the hot loop.
        It has no line numbers: raises pa.ArrowInvalid at the first bad record, and the
        caller falls back to the careful path.

        The reader reads up to 32 blocks ahead in a background thread, however slow the
        consumer: small blocks keep that memory small, and consecutive ones are joined into
        tables of up to `batch_size` records (a batch per small block would cost downstream
        nodes a call each)."""
        with pa.OSFile(path) as f:
            head = f.read(SAMPLE_BYTES)
            header, own, conform = self.plan(path, head, schema)
            if header and not head[:header].endswith(b"\n"):
                raise pa.ArrowInvalid("header line longer than the sample: read it block-wise")
            f.seek(header)
            block = min(self.config.block_size, STREAM_BLOCK_BYTES)
            reader = pcsv.open_csv(
                f,
                read_options=pcsv.ReadOptions(column_names=own.names, block_size=block),
                parse_options=self.csv_options,
                convert_options=pcsv.ConvertOptions(column_types=own),
            )
            try:
                joined: list[pa.RecordBatch] = []
                rows = 0
                for batch in itertools.chain(reader, [None]):
                    if joined and (batch is None or rows + batch.num_rows > self.config.batch_size):
                        # One contiguous table: downstream gets whole batches, not slivers.
                        table = pa.Table.from_batches(joined).combine_chunks()
                        yield _conform(table, schema) if conform else table
                        joined, rows = [], 0
                    if batch is not None:
                        joined.append(batch)
                        rows += batch.num_rows
            finally:
                reader.close()  # before the file: its read-ahead may still be running

    def read_text(self, path: str, schema: pa.Schema) -> Pieces:
        """Pieces of a CSV or JSON-lines file, with the stream's schema."""
        if self.config.format == "csv":
            produced = 0
            try:
                for table in self.stream_csv(path, schema):
                    produced += table.num_rows
                    yield [table], []
                return
            except pa.ArrowException:
                # A bad record (or anything else Arrow refused): read the file again the
                # careful way, which names the line and applies on_error, passing over the
                # rows the fast path already produced.
                self.skip += produced
        yield from self.read_blocks(path, schema)

    def read_blocks(self, path: str, schema: pa.Schema) -> Pieces:
        """Pieces of a text file parsed a block at a time; a block that does not parse is cut
        in halves until its bad records are alone, each with its line number."""
        with open(path, "rb") as f:
            parser = conform = None
            for data, line in _text.blocks(f, self.config.block_size, self.quote):
                if parser is None:
                    header, own, conformed = self.plan(path, data, schema)
                    conform = schema if conformed else None
                    parser = self.parser(own.names, own)
                    line += data.count(b"\n", 0, header)
                    data = data[header:]
                tables, bad = _text.parse(data, line, parser, self.quote)
                if conform is not None:
                    tables = [_conform(t, conform) for t in tables]
                yield tables, bad

    def read_parquet(self, path: str) -> Pieces:
        f = pq.ParquetFile(path)
        first = 0
        while first < f.num_row_groups and self.skip >= f.metadata.row_group(first).num_rows:
            self.skip -= f.metadata.row_group(first).num_rows  # resume: skip whole row groups
            first += 1
        groups = range(first, f.num_row_groups)
        for batch in f.iter_batches(batch_size=self.config.batch_size, row_groups=groups):
            yield [pa.Table.from_batches([batch])], []

    def read(self, path: str) -> Generator[tuple[str, pa.RecordBatch]]:
        """(port, batch) items of one file, less what an earlier run already sent on."""
        self.skip, skip_bad = self.position, self.failed
        if self.config.format == "parquet":
            pieces = self.read_parquet(path)
        else:
            pieces = self.read_text(path, self.schema or self.file_schema(path))
        for tables, bad in pieces:
            bad, skip_bad = bad[skip_bad:], max(0, skip_bad - len(bad))
            if bad:
                yield from self.reject(path, bad)
            if len(tables) > 1:  # pieces around bad records: merge back into full batches
                tables = [pa.concat_tables(tables).combine_chunks()]
            for table in tables:
                cut = min(self.skip, table.num_rows)
                self.skip -= cut
                for batch in _even_batches(table.slice(cut), self.config.batch_size):
                    yield "out", batch

    def reject(self, path: str, bad: list[_text.BadRecord]) -> Iterator[tuple[str, pa.RecordBatch]]:
        first = bad[0]
        if self.config.on_error == "route":
            lines, raws, errors = zip(*bad, strict=True)
            columns = [[path] * len(bad), list(lines), list(raws), list(errors)]
            yield "failure", pa.RecordBatch.from_arrays(columns, schema=FAILURE_SCHEMA)
        elif self.config.on_error == "drop":
            message = "%s: dropped %d bad records; line %d: %s"
            self.log.warning(message, path, len(bad), first.line, first.error)
        else:
            raise ValueError(f"{path} line {first.line}: {first.error}")

    async def batches(self) -> AsyncIterator[tuple[str, pa.RecordBatch]]:
        while True:
            files, done = await asyncio.to_thread(self.files), set(self.done)
            todo = [p for p in files if p not in done]
            if todo and self.schema is None and self.config.format != "parquet":
                # One schema for the stream, from the first file as at design time.
                self.schema = await asyncio.to_thread(self.stream_schema, files)
            for path in todo:
                if path != self.current:
                    self.current, self.position, self.failed = path, 0, 0
                items = self.read(path)
                try:
                    # Parsing blocks in worker threads keeps the event loop free.
                    while (item := await asyncio.to_thread(next, items, None)) is not None:
                        if item[0] == "out":
                            self.position += item[1].num_rows
                        else:
                            self.failed += item[1].num_rows
                        yield item
                finally:
                    with contextlib.suppress(ValueError):  # still running in a cancelled thread
                        items.close()
                self.done.append(path)
                self.current, self.position, self.failed = None, 0, 0
            if not self.config.watch:
                return
            if not todo:
                await asyncio.sleep(self.config.poll_seconds)
