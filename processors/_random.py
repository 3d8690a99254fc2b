"""Counter-based random draws and string building as Arrow compute: no per-row Python."""

from __future__ import annotations

import functools
import hashlib

import pyarrow as pa
import pyarrow.compute as pc

_M64 = (1 << 64) - 1


def u64(value: int) -> pa.Scalar:
    return pa.scalar(value & _M64, pa.uint64())


def _mix(x: pa.Array) -> pa.Array:
    # SplitMix64's finaliser as Arrow compute (uint64 arithmetic wraps): a counter-based RNG,
    # so row i's value depends only on (seed, column, i) and a restored run, whatever its
    # batch sizes, continues the exact sequence.
    x = pc.add(x, u64(0x9E3779B97F4A7C15))
    x = pc.multiply(pc.bit_wise_xor(x, pc.shift_right(x, u64(30))), u64(0xBF58476D1CE4E5B9))
    x = pc.multiply(pc.bit_wise_xor(x, pc.shift_right(x, u64(27))), u64(0x94D049BB133111EB))
    return pc.bit_wise_xor(x, pc.shift_right(x, u64(31)))


class Draws:
    """Random streams of one column over a run of record numbers."""

    def __init__(self, records: pa.Array, seed: int, column: str, now_us: int):
        self.records, self.now_us = records, now_us
        # Keyed by column name: a column keeps its values when others are added or moved.
        name = int.from_bytes(hashlib.blake2b(column.encode(), digest_size=7).digest())
        self._key = _mix(pa.array([seed & _M64], pa.uint64()))[0].as_py() ^ (name << 8)

    def bits(self, stream: int) -> pa.Array:
        key = _mix(pa.array([self._key ^ stream], pa.uint64()))[0]
        return _mix(pc.add(self.records, key))

    def uniform(self, stream: int = 0) -> pa.Array:
        """Doubles in [0, 1) from the top 53 bits."""
        return pc.multiply(
            pc.cast(pc.shift_right(self.bits(stream), u64(11)), pa.float64()), 2.0**-53
        )

    def integers(self, lo: int, hi: int, stream: int = 0) -> pa.Array:
        offset = pc.cast(pc.floor(pc.multiply(self.uniform(stream), hi - lo + 1)), pa.int64())
        return pc.add(offset, lo)

    def codes(self, count: int, width: int, alphabet: bytes, stream: int = 0) -> list[pa.Array]:
        """`count` columns of character codes drawn from `alphabet`, `width` random bits each."""
        per_draw, letters, out = 64 // width, pa.array(list(alphabet), pa.uint8()), []
        for i in range(count):
            shifted = pc.shift_right(self.bits(stream + i // per_draw), u64(width * (i % per_draw)))
            out.append(pc.take(letters, pc.bit_wise_and(shifted, u64((1 << width) - 1))))
        return out


@functools.lru_cache(maxsize=8)
def layout(n: int, width: int) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Row, position in row and source index of each byte of n strings `width` bytes wide.

    Cached: batches mostly share their size, and this costs more than the transposing take.
    """
    pos = pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), n * width), start=-1)
    row = pc.divide(pos, width)
    col = pc.subtract(pos, pc.multiply(row, width))
    return row, col, pc.add(pc.multiply(col, n), row)


def strings(codes: list[pa.Array], lengths: pa.Array | None = None) -> pa.Array:
    """Strings from one uint8 column per character position, cut to `lengths` (bytes).

    One `take` transposes the columns into row-major bytes: far cheaper than a string
    concatenation per character position.
    """
    n, width = len(codes[0]), len(codes)
    row, col, index = layout(n, width)
    data = pc.take(pa.concat_arrays(codes), index)
    if lengths is None:
        lengths = pa.repeat(pa.scalar(width, pa.int32()), n)
    else:
        data = data.filter(pc.less(col, pc.take(lengths, row)))
    ends = pc.cumulative_sum(pc.cast(lengths, pa.int32()))
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), ends])
    return pa.StringArray.from_buffers(n, offsets.buffers()[1], data.buffers()[1])
