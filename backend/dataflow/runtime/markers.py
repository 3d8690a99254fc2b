"""Control markers that travel in the edge queues with the data: end of stream, barriers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """The producer of this edge will send nothing more."""


@dataclass(frozen=True, slots=True)
class Barrier:
    """A checkpoint boundary: everything before it on the edge belongs to the checkpoint."""

    checkpoint_id: int


Marker = EndOfStream | Barrier
END_OF_STREAM = EndOfStream()


class BarrierAligner:
    """Tracks barriers on a node's input edges; a barrier goes on once every open input has
    sent it. The node's Inbox holds back an input that delivered the barrier until then
    (aligned, as in Flink), so what the node processed at that point is exactly what came
    before the barrier on every input."""

    def __init__(self, input_edges: Iterable[str]):
        self._open = set(input_edges)
        self._seen: dict[int, set[str]] = {}

    @property
    def open_edges(self) -> frozenset[str]:
        return frozenset(self._open)

    def barrier(self, edge_id: str, checkpoint_id: int) -> list[int]:
        """Record a barrier from `edge_id`; returns the checkpoints now complete, in order."""
        self._seen.setdefault(checkpoint_id, set()).add(edge_id)
        return self._complete()

    def end_of_stream(self, edge_id: str) -> list[int]:
        """An input ended: it will send no barrier, so pending ones may now be complete."""
        self._open.discard(edge_id)
        return self._complete()

    @property
    def ended(self) -> bool:
        return not self._open

    def _complete(self) -> list[int]:
        done = sorted(cid for cid, seen in self._seen.items() if self._open <= seen)
        for cid in done:
            del self._seen[cid]
        return done
