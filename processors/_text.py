"""Text files in record-aligned blocks, parsed whole, with bad records isolated by bisection."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import BinaryIO, NamedTuple

import pyarrow as pa


class BadRecord(NamedTuple):
    line: int
    raw: str
    error: str


def last_record_end(data: bytes, start: int, end: int, quote: bytes) -> int:
    """Just past the last record ending in data[start:end] (start records start), else start.

    A newline inside a quoted value ends no record. Quotes inside values are doubled, so a
    newline ends a record when an even number of quotes precedes it since `start`.
    """
    pos = data.rfind(b"\n", start, end)
    quotes = data.count(quote, start, pos) if quote and pos >= 0 else 0
    while pos >= 0 and quotes % 2:
        prev = data.rfind(b"\n", start, pos)
        quotes -= data.count(quote, max(prev, start), pos)
        pos = prev
    return pos + 1 if pos >= 0 else start


def first_record_end(data: bytes, quote: bytes) -> int:
    pos = data.find(b"\n")
    while pos >= 0 and quote and data.count(quote, 0, pos) % 2:
        pos = data.find(b"\n", pos + 1)
    return pos + 1 if pos >= 0 else len(data)


def blocks(file: BinaryIO, size: int, quote: bytes) -> Iterator[tuple[bytes, int]]:
    """Blocks of whole records, about `size` bytes each, with the line each starts on."""
    line, tail = 1, b""
    while True:
        chunk = file.read(size)
        data = tail + chunk
        end = last_record_end(data, 0, len(data), quote) if chunk else len(data)
        if end:  # else one record is longer than a block: read on
            yield data[:end], line
            line += data.count(b"\n", 0, end)
        tail = data[end:]
        if not chunk:
            return


def parse(
    data: bytes, line: int, parser: Callable[[pa.Buffer], pa.Table], quote: bytes
) -> tuple[list[pa.Table], list[BadRecord]]:
    """Parse a block of records in one call. If that fails, parse its halves (split at a record
    end), and so on: k bad records cost about k * log(n) parses of shrinking pieces, and
    everything else stays batch-wise. Tables come back in file order."""
    buffer, tables, bad = pa.py_buffer(data), [], []
    todo = [(0, len(data), line)]
    while todo:
        start, end, line = todo.pop()
        try:
            tables.append(parser(buffer.slice(start, end - start)))
            continue
        except pa.ArrowException as exc:
            # "in row 0" would count from the piece, not the file: `line` says where.
            error = re.sub(r" in row \d+$", "", str(exc).partition("\n")[0]) or repr(exc)
        if not data[start:end].strip():  # blank lines: JSON readers call them an empty file
            continue
        split = last_record_end(data, start, (start + end) // 2, quote)
        if split == start:
            split = last_record_end(data, start, end - 1, quote)
        if split == start:
            raw = data[start:end].decode("utf-8", "replace").rstrip("\r\n")
            bad.append(BadRecord(line, raw, error))
            continue
        todo.append((split, end, line + data.count(b"\n", start, split)))
        todo.append((start, split, line))
    return tables, bad
