"""Write batches to CSV, JSON-lines or Parquet files that appear atomically and roll by size."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import re
import threading
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
#: Where exactly-once runs keep the files of checkpoints not yet committed, in `directory`:
#: hidden, so that globs, read_file, Spark, Hive and pyarrow datasets all pass it by.
STAGING = ".dataflow-staging"
_MANIFEST = re.compile(r"^ckpt-(\d+)\.json$")


class WriteFileConfig(ProcessorConfig, kw_only=True):
    """Writes the records it receives into files in `directory`, starting a new file when a
    roll limit is reached. Readers, read_file included, never see half a file, and existing
    files are never overwritten. How files appear depends on the flow's delivery setting:

    - at_least_once (the default): a file is written under a hidden name
      (`.NAME.RUN.NODE.tmp`) and renamed when complete: on roll, at each checkpoint and at the
      end of the stream. After a crash, the records since the last checkpoint are written
      again, into new files, and the restarted run removes the half-written one.
    - exactly_once (two-phase commit): files written since the last checkpoint are kept
      under `.dataflow-staging/RUN/NODE/` in `directory`, and a checkpoint lists its files in
      a manifest there; they move into place only once the checkpoint is committed, so a
      rolled file shows at the next checkpoint, and the files after the last one at the end
      of the run (or at a stop). A restarted run first publishes what its last committed
      checkpoint staged, if that was not done yet, and removes everything staged after it,
      which it then writes again: no partial, lost or duplicate files.

    `directory` may also be a URI of an object store: s3://bucket/prefix or gs://bucket/prefix
    (through pyarrow.fs). There a file is uploaded under its final name, as an object shows
    only once its upload is complete; exactly_once uploads it under the staging prefix and
    copies it to its final name at commit (object stores cannot rename), then deletes the
    staged copy. S3 credentials come from the s3_* fields, else from the environment as for
    the AWS CLI (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, ~/.aws, an
    instance role); GCS credentials from the environment (GOOGLE_APPLICATION_CREDENTIALS or
    the machine's service account).
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


def _fsync(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)  # a directory too: its entries (names) become durable
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(tmp: Path, final: Path) -> None:
    _fsync(tmp)  # durable before it becomes visible
    os.replace(tmp, final)


class _Store:
    """The few file operations the two-phase commit needs, on a local directory (durable by
    fsync, atomic by rename) or on an object store through pyarrow.fs (an object shows only
    once its upload is complete; copy and delete stand in for rename)."""

    def __init__(self, fs: pafs.FileSystem | None):
        self.fs = fs

    def exists(self, path: str) -> bool:
        if self.fs is None:
            return os.path.lexists(path)
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def create(self, path: str) -> pa.NativeFile:
        if self.fs is None:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return pa.OSFile(path, "wb")
        return self.fs.open_output_stream(path, compression=None)

    def list(self, directory: str) -> list[str]:
        """Names in `directory`, none when it does not exist."""
        if self.fs is None:
            try:
                return os.listdir(directory)
            except FileNotFoundError:
                return []
        selector = pafs.FileSelector(directory, allow_not_found=True)
        return [info.base_name for info in self.fs.get_file_info(selector)]

    def read(self, path: str) -> bytes:
        if self.fs is None:
            return Path(path).read_bytes()
        with self.fs.open_input_stream(path) as f:
            return f.read()

    def write_atomic(self, path: str, data: bytes) -> None:
        if self.fs is not None:
            with self.fs.open_output_stream(path, compression=None) as f:
                f.write(data)
            return
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync(os.path.dirname(path))

    def sync(self, path: str) -> None:
        """Local: make a complete file, or a directory's names, durable."""
        if self.fs is None:
            _fsync(path)

    def move(self, staged: str, final: str) -> None:
        """Publish a staged file under its final name; a no-op once it was (idempotent)."""
        if self.fs is None:
            with contextlib.suppress(FileNotFoundError):
                os.replace(staged, final)
            return
        if self.exists(staged):
            # Copied again if a crash came between copy and delete: the same bytes under the
            # same name, so a reader never sees a duplicate.
            self.fs.copy_file(staged, final)
            self.delete(staged)

    def delete(self, path: str) -> None:
        if self.fs is None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(path)

    def prune(self, directory: str, stop: str) -> None:
        """Remove `directory` and its parents up to `stop` (excluded) while they are empty."""
        while directory != stop and directory.startswith(f"{stop}/"):
            if self.list(directory):
                return
            try:
                if self.fs is None:
                    os.rmdir(directory)
                else:
                    self.fs.delete_dir(directory)
            except (FileNotFoundError, OSError):
                return
            directory = directory.rsplit("/", 1)[0]


class _File:
    """One output file being written, under a name readers do not see yet."""

    def __init__(
        self,
        config: WriteFileConfig,
        sink: pa.NativeFile,
        schema: pa.Schema,
        done: Callable[[], None] | None = None,
    ):
        self.config, self.sink, self.schema, self.done = config, sink, schema, done
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
        if self.done is not None:
            self.done()


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
    exactly_once = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.file: _File | None = None
        self.file_path = ""  # where `file` is being written
        self.seq = 0
        self.fs: pafs.FileSystem | None = None  # None: a local directory
        self.root: str | None = None  # the path in `fs`, once located
        self.store = _Store(None)
        #: Exactly once: files complete in staging that no prepared checkpoint lists yet.
        self.staged: list[str] = []
        # commit_checkpoint may run beside a write (the next epoch's): it touches only the
        # staging directory, and the lock keeps two commits (or a commit and a recovery) apart.
        self._publishing = threading.Lock()

    @property
    def two_phase(self) -> bool:
        return self.context.delivery == "exactly_once"

    @property
    def staging(self) -> str:
        """This run's and node's staging directory (the run id survives a restart)."""
        run = (self.context.run_id or "run").replace("/", "_")
        return f"{self.root}/{STAGING}/{run}/{self.context.node_id.replace('/', '_')}"

    def confine(self) -> None:
        if remote(self.config) is None:
            self.allowed_path(str(local_directory(self.config.directory)), "directory")

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> str:
        root = self._locate()
        if self.fs is None:
            return root
        bucket = root.split("/")[0]
        if self.fs.get_file_info(bucket).type == pafs.FileType.NotFound:  # fail at the start
            raise FileNotFoundError(f"{self.config.directory}: bucket {bucket!r} does not exist")
        return root

    def _locate(self) -> str:
        """The root (a path in `fs`), located on first use."""
        if self.root is not None:
            return self.root
        found = remote(self.config)
        if found is None:
            # Inside the server's file roots (symlinks resolved): refused otherwise.
            self.context.reach.path(str(local_directory(self.config.directory)))
            self.root = str(local_directory(self.config.directory))
        else:
            self.fs, self.root = found
        self.store = _Store(self.fs)
        return self.root

    def start(self, schema: pa.Schema) -> _File:
        root = self._open() if self.root is None else self.root
        if self.fs is None:
            Path(root).mkdir(parents=True, exist_ok=True)
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
            file = self._create(root, name, schema)
            if file is not None:
                return file

    def _create(self, root: str, name: str, schema: pa.Schema) -> _File | None:
        """A new file called `name` in `root`, or None when the name is taken."""
        final = f"{root}/{name}"
        if self.two_phase:
            staged = f"{self.staging}/{name}"
            if self.store.exists(final) or self.store.exists(staged):
                return None
            self.file_path = staged
            return _File(self.config, self.store.create(staged), schema, partial(self._done, name))
        if self.fs is None:
            directory = Path(root)
            final_path, tmp = directory / name, directory / f".{name}{self._tmp_suffix}"
            # Taken too while any run or node is still writing it under a temporary name.
            if final_path.exists() or any(directory.glob(f".{glob.escape(name)}.*.tmp")):
                return None
            self.file_path = str(tmp)
            return _File(
                self.config, pa.OSFile(str(tmp), "wb"), schema, partial(_publish, tmp, final_path)
            )
        if self.fs.get_file_info(final).type != pafs.FileType.NotFound:
            return None
        # S3 and GCS show an object only once its upload is complete, so writing under the
        # final name is already atomic, where a temporary key would cost a copy of the whole
        # file to "rename" it (S3 has no rename). An upload cut short by a crash is never
        # completed, so never seen.
        self.file_path = final
        return _File(self.config, self.fs.open_output_stream(final, compression=None), schema)

    def _done(self, name: str) -> None:
        """Exactly once: a staged file is complete; the next checkpoint will list it."""
        self.store.sync(f"{self.staging}/{name}")
        self.staged.append(name)

    def roll(self) -> None:
        if self.file is not None:
            file, self.file = self.file, None
            file.finish()

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
        # At least once: a checkpoint counts only once its files are complete and visible.
        # Exactly once: complete and durable in staging, shown by commit_checkpoint.
        self.roll()

    # -- two-phase commit (delivery exactly_once) -------------------------------------------
    def prepare_checkpoint(self, checkpoint_id: int) -> None:
        self.roll()
        if not self.two_phase or not self.staged:
            return
        # The files' names are durable before a manifest can name them; the manifest appears
        # whole (rename, or one upload): it is what says "these belong to checkpoint N".
        self.store.sync(self.staging)
        manifest = json.dumps({"checkpoint": checkpoint_id, "files": self.staged})
        self.store.write_atomic(f"{self.staging}/ckpt-{checkpoint_id}.json", manifest.encode())
        self.staged = []

    def commit_checkpoint(self, checkpoint_id: int) -> None:
        if self.two_phase:
            self._publish_up_to(checkpoint_id)

    @property
    def _tmp_suffix(self) -> str:
        # Tagged with run and node: a restarted run finds (and removes) exactly its own.
        return f".{self.context.run_id}.{self.context.node_id}.tmp"

    def recover(self, committed_checkpoint_id: int | None) -> None:
        root = self._locate()
        if not self.two_phase and self.fs is None:
            # A crash leaves the file being written under its temporary name: the run writes
            # those records again from the checkpoint's offsets, so the leftover goes.
            for leftover in Path(root).glob(f".*{self._tmp_suffix}"):
                leftover.unlink(missing_ok=True)
        if committed_checkpoint_id is not None:
            self._publish_up_to(committed_checkpoint_id)
        with self._publishing:
            # What is left belongs to later checkpoints, or to none (files after the last
            # prepared one): the run writes it again from the committed checkpoint's offsets.
            for name in self.store.list(self.staging):
                self.store.delete(f"{self.staging}/{name}")
            self._prune()

    def _publish_up_to(self, checkpoint_id: int) -> None:
        """Move the files of every manifest up to `checkpoint_id` into place, oldest first;
        a manifest goes last, so a crash half-way is finished by the next call."""
        root = self._locate()
        with self._publishing:
            manifests = sorted(
                (int(m[1]), name)
                for name in self.store.list(self.staging)
                if (m := _MANIFEST.match(name)) and int(m[1]) <= checkpoint_id
            )
            for _, manifest in manifests:
                path = f"{self.staging}/{manifest}"
                for name in json.loads(self.store.read(path))["files"]:
                    self.store.move(f"{self.staging}/{name}", f"{root}/{name}")
                self.store.sync(root)  # the new names are durable before...
                self.store.delete(path)  # ...the manifest that would publish them again goes

    def _prune(self) -> None:
        self.store.prune(self.staging, str(self.root))

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        if not self.two_phase:
            self.roll()
            return
        # Exactly once: what no checkpoint lists is never published (the engine prepares and
        # commits a last checkpoint at the end of a run or at a stop); a restart replays it.
        try:
            if self.file is not None:
                with contextlib.suppress(Exception):
                    self.roll()
                self.store.delete(self.file_path)
        finally:
            self.file = None
            for name in self.staged:
                self.store.delete(f"{self.staging}/{name}")
            self.staged = []
            if self.root is not None:
                with self._publishing:
                    self._prune()
