"""The runtime: runs flows on Arrow batches through bounded, back-pressured edge queues."""

from dataflow.runtime.checkpoints import Checkpoint, CheckpointStore, MemoryCheckpoints
from dataflow.runtime.engine import FlowBuildError, FlowRun, Listener, RunContext
from dataflow.runtime.markers import Barrier, EndOfStream
from dataflow.runtime.metrics import EdgeMetrics, FlowMetrics, NodeMetrics
from dataflow.runtime.queues import EdgeQueue
from dataflow.runtime.sample import SampleColumn, SampleResult
from dataflow.runtime.state import (
    CheckpointCompleted,
    OffsetsChanged,
    RunNotice,
    RunOutcome,
    RunState,
    StateChanged,
)

__all__ = [
    "Barrier",
    "Checkpoint",
    "CheckpointCompleted",
    "CheckpointStore",
    "EdgeMetrics",
    "EdgeQueue",
    "EndOfStream",
    "FlowBuildError",
    "FlowMetrics",
    "FlowRun",
    "Listener",
    "MemoryCheckpoints",
    "NodeMetrics",
    "OffsetsChanged",
    "RunContext",
    "RunNotice",
    "RunOutcome",
    "RunState",
    "SampleColumn",
    "SampleResult",
    "StateChanged",
]
