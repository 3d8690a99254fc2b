"""Write batches to CSV, JSON-lines or Parquet files that appear atomically and roll by size."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from dataflow.processor import ProcessorConfig, ProcessorSpec, Sink, ui
from dataflow_processors._sql import query

PLACEHOLDERS = {"run_id": "r", "node_id": "n", "seq": 0, "timestamp": "t", "ext": "e"}


class WriteFileConfig(ProcessorConfig, kw_only=True):
    """Writes the records it receives into files in `directory`, starting a new file when a
    roll limit is reached. A file is written under a hidden name (`.NAME.tmp`) and renamed
    when complete (on roll, at each checkpoint and at the end of the stream), so readers,
    read_file included, never see half a file. Existing files are never overwritten.
    """

    directory: Annotated[
        str,
        ui(
            "Directory",
            "Relative paths start from the server's working directory; created if missing.",
            placeholder="out/orders",
            min_length=1,
        ),
    ]
    format: Annotated[Literal["csv", "jsonl", "parquet"], ui("Format")] = "jsonl"
    file_name: Annotated[
        str,
        ui(
            "File name",
            "Placeholders: {run_id}, {node_id}, {seq} (file number in the run, from 0; format"
            " specs such as {seq:05d} work), {timestamp} (UTC time the file was started,"
            " 20240131T235959Z), {ext} (csv, jsonl or parquet).",
            min_length=1,
        ),
    ] = "part-{run_id}-{seq:05d}.{ext}"
    roll_rows: Annotated[int, ui("Roll after records", "0 = no limit.", ge=0)] = 0
    roll_bytes: Annotated[int, ui("Roll after bytes", "0 = no limit.", ge=0)] = 0
    roll_seconds: Annotated[
        float, ui("Roll after seconds", "Checked as records arrive; 0 = no limit.", ge=0)
    ] = 0.0
    header: Annotated[bool, ui("Header row", "CSV: write column names first.")] = True
    delimiter: Annotated[str, ui("Delimiter", "CSV.", min_length=1, max_length=1)] = ","
    compression: Annotated[
        Literal["snappy", "zstd", "gzip", "none"], ui("Compression", "Parquet.")
    ] = "snappy"

    def __post_init__(self) -> None:
        try:
            name = self.file_name.format(**PLACEHOLDERS)
        except (KeyError, IndexError, ValueError) as exc:
            allowed = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            raise ValueError(f"file_name: bad placeholder {exc} (use {allowed})") from None
        if "{seq" not in self.file_name or os.sep in name or name.startswith("."):
            raise ValueError("file_name: needs {seq}, no '/' and no leading '.'")


class _File:
    """One output file being written under its temporary name."""

    def __init__(self, config: WriteFileConfig, tmp: Path, final: Path, schema: pa.Schema):
        self.config, self.tmp, self.final, self.schema = config, tmp, final, schema
        self.sink = pa.OSFile(str(tmp), "wb")
        self.rows, self.started = 0, time.monotonic()
        self.writer: Any = None
        if config.format == "csv":
            options = pcsv.WriteOptions(include_header=config.header, delimiter=config.delimiter)
            self.writer = pcsv.CSVWriter(self.sink, schema, write_options=options)
        elif config.format == "parquet":
            self.writer = pq.ParquetWriter(self.sink, schema, compression=config.compression)

    def write(self, batch: pa.RecordBatch) -> None:
        if self.writer is not None:
            self.writer.write_batch(batch)
        else:  # JSON lines: DuckDB renders them; its string buffer is written as is
            lines = query("SELECT to_json(r) || chr(10) FROM input AS r", batch).column(0)
            for chunk in lines.chunks:
                chunk = chunk.cast(pa.large_string())  # one offsets layout, whatever DuckDB gave
                bounds = [None, chunk.buffers()[1]]
                ends = pa.Array.from_buffers(
                    pa.int64(), len(chunk) + 1, bounds, offset=chunk.offset
                )
                self.sink.write(chunk.buffers()[2][ends[0].as_py() : ends[-1].as_py()])
        self.rows += batch.num_rows

    def full(self) -> bool:
        cfg = self.config
        return bool(
            (cfg.roll_rows and self.rows >= cfg.roll_rows)
            or (cfg.roll_bytes and self.sink.tell() >= cfg.roll_bytes)
            or (cfg.roll_seconds and time.monotonic() - self.started >= cfg.roll_seconds)
        )

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.sink.close()
        fd = os.open(self.tmp, os.O_RDONLY)  # durable before it becomes visible
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(self.tmp, self.final)


class WriteFile(Sink[WriteFileConfig]):
    spec = ProcessorSpec(
        name="write_file",
        category="sink",
        status="stable",
        icon="file-output",
        summary="Write CSV, JSON-lines or Parquet files, rolled by records, bytes or time.",
        inputs=("in",),
        examples=[
            {"directory": "out/orders", "format": "parquet", "roll_rows": 1_000_000},
            {
                "directory": "out/events",
                "roll_seconds": 60,
                "file_name": "events-{timestamp}-{seq}.{ext}",
            },
            {"directory": "/srv/exports", "format": "csv", "delimiter": ";", "roll_bytes": 1 << 28},
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.file: _File | None = None
        self.seq = 0

    def start(self, schema: pa.Schema) -> _File:
        directory = Path(self.config.directory)
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        while True:  # skip names taken, by an earlier run for instance
            name = self.config.file_name.format(
                run_id=self.context.run_id or "run",
                node_id=self.context.node_id,
                seq=self.seq,
                timestamp=stamp,
                ext=self.config.format,
            )
            self.seq += 1
            final, tmp = directory / name, directory / f".{name}.tmp"
            if not final.exists() and not tmp.exists():
                return _File(self.config, tmp, final, schema)

    def roll(self) -> None:
        if self.file is not None:
            self.file.finish()
            self.file = None

    def write(self, batch: pa.RecordBatch) -> None:
        while batch.num_rows:
            # A new schema upstream cannot share a CSV or Parquet file: start another.
            if self.file is not None and (self.file.full() or self.file.schema != batch.schema):
                self.roll()
            if self.file is None:
                self.file = self.start(batch.schema)
            room = self.config.roll_rows - self.file.rows if self.config.roll_rows else None
            part, batch = batch.slice(0, room), batch.slice(room or batch.num_rows)
            self.file.write(part)
            if self.file.full():
                self.roll()

    def flush(self) -> None:
        self.roll()  # a checkpoint counts only once its files are complete and visible

    async def close(self) -> None:
        await asyncio.to_thread(self.roll)
