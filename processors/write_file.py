"""Write batches to CSV, JSON-lines or Parquet files that appear atomically and roll by size."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from dataflow.processor import ProcessorConfig, ProcessorSpec, Sink, ui
from dataflow_processors._sql import query

PLACEHOLDERS = {"run_id": "r", "node_id": "n", "seq": 0, "timestamp": "t", "ext": "e"}


class WriteFileConfig(ProcessorConfig, kw_only=True):
    """Writes the records it receives into files in `directory`, starting a new file when a
    roll limit is reached. A file is written under a hidden name (`.NAME.tmp`) and renamed
    when complete (on roll, at each checkpoint and at the end of the stream), so readers,
    read_file included, never see half a file. Existing files are never overwritten.

    `directory` may also be a URI of an object store: s3://bucket/prefix or gs://bucket/prefix
    (through pyarrow.fs). There a file is uploaded under its final name, as an object shows
    only once its upload is complete. S3 credentials come from the s3_* fields, else from the
    environment as for the AWS CLI (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
    ~/.aws, an instance role); GCS credentials from the environment
    (GOOGLE_APPLICATION_CREDENTIALS or the machine's service account).
    """

    directory: Annotated[
        str,
        ui(
            "Directory",
            "A local path (relative paths start from the server's working directory; created"
            " if missing) or the URI of a bucket and prefix, s3://... or gs://...",
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
    s3_endpoint_override: Annotated[
        str,
        ui(
            "S3 endpoint",
            "host:port of an S3-compatible store (MinIO, Ceph...); empty = AWS.",
            advanced=True,
        ),
    ] = ""
    s3_scheme: Annotated[
        Literal["https", "http"], ui("S3 scheme", "Protocol to the S3 endpoint.", advanced=True)
    ] = "https"
    s3_region: Annotated[
        str, ui("S3 region", "Empty = from the environment (AWS_REGION).", advanced=True)
    ] = ""
    s3_access_key: Annotated[
        str,
        ui(
            "S3 access key",
            "Access key id; empty = credentials from the environment.",
            advanced=True,
            secret=True,
        ),
    ] = ""
    s3_secret_key: Annotated[
        str,
        ui(
            "S3 secret key",
            "Secret access key, with the access key.",
            widget="password",
            advanced=True,
            secret=True,
        ),
    ] = ""

    def __post_init__(self) -> None:
        if bool(self.s3_access_key) != bool(self.s3_secret_key):
            raise ValueError("set both s3_access_key and s3_secret_key, or neither")
        try:
            name = self.file_name.format(**PLACEHOLDERS)
        except (KeyError, IndexError, ValueError) as exc:
            allowed = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            raise ValueError(f"file_name: bad placeholder {exc} (use {allowed})") from None
        if "{seq" not in self.file_name or os.sep in name or name.startswith("."):
            raise ValueError("file_name: needs {seq}, no '/' and no leading '.'")


def remote(config: WriteFileConfig) -> tuple[pafs.FileSystem, str] | None:
    """The filesystem and root path of a URI `directory`; None for a local directory."""
    uri = urlsplit(config.directory)
    if "://" not in config.directory or uri.scheme == "file":
        return None
    if uri.scheme == "s3":
        # Built here rather than by FileSystem.from_uri, which asks AWS for the bucket's region
        # when none is given: a request that fails against another S3-compatible store.
        fs = pafs.S3FileSystem(
            access_key=config.s3_access_key or None,
            secret_key=config.s3_secret_key or None,
            region=config.s3_region or None,
            endpoint_override=config.s3_endpoint_override or None,
            scheme=config.s3_scheme,
        )
        return fs, f"{uri.netloc}{unquote(uri.path)}".rstrip("/")
    fs, path = pafs.FileSystem.from_uri(config.directory)
    return fs, path.rstrip("/")


def local_directory(directory: str) -> Path:
    if directory.startswith("file://"):
        return Path(unquote(urlsplit(directory).path))
    return Path(directory)


def _publish(tmp: Path, final: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)  # durable before it becomes visible
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)


class _File:
    """One output file being written: under its temporary name, or a pending upload."""

    def __init__(
        self,
        config: WriteFileConfig,
        sink: pa.NativeFile,
        schema: pa.Schema,
        publish: Callable[[], None] | None = None,
    ):
        self.config, self.sink, self.schema, self.publish = config, sink, schema, publish
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
        self.sink.close()  # an object store's upload completes here
        if self.publish is not None:
            self.publish()


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
            {"directory": "s3://analytics/orders", "format": "parquet", "s3_region": "eu-west-1"},
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.file: _File | None = None
        self.seq = 0
        self.fs: pafs.FileSystem | None = None  # None: a local directory
        self.root: str | None = None  # the path in `fs`, once open

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        found = remote(self.config)
        if found is None:
            self.root = str(local_directory(self.config.directory))
            return
        self.fs, self.root = found
        bucket = self.root.split("/")[0]
        if self.fs.get_file_info(bucket).type == pafs.FileType.NotFound:  # fail at the start
            raise FileNotFoundError(f"{self.config.directory}: bucket {bucket!r} does not exist")

    def start(self, schema: pa.Schema) -> _File:
        if self.root is None:
            self._open()
        if self.fs is None:
            Path(self.root).mkdir(parents=True, exist_ok=True)
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
            file = self._create(name, schema)
            if file is not None:
                return file

    def _create(self, name: str, schema: pa.Schema) -> _File | None:
        """A new file called `name`, or None when the name is taken."""
        if self.fs is None:
            directory = Path(self.root)
            final, tmp = directory / name, directory / f".{name}.tmp"
            if final.exists() or tmp.exists():
                return None
            return _File(
                self.config, pa.OSFile(str(tmp), "wb"), schema, partial(_publish, tmp, final)
            )
        path = f"{self.root}/{name}"
        if self.fs.get_file_info(path).type != pafs.FileType.NotFound:
            return None
        # S3 and GCS show an object only once its upload is complete, so writing under the
        # final name is already atomic, where a temporary key would cost a copy of the whole
        # file to "rename" it (S3 has no rename). An upload cut short by a crash is never
        # completed, so never seen.
        return _File(self.config, self.fs.open_output_stream(path, compression=None), schema)

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
