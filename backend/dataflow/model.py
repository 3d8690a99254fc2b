"""The flow document: msgspec structs that are the single source of its JSON Schema."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec

from dataflow.migrations import FORMAT_VERSION, migrate

#: Objects and lists nested deeper than this are refused before anything else reads them
#: (a config has no reason to go past a few levels; recursion limits lie far beyond).
MAX_DOCUMENT_DEPTH = 64

Id = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="Letters, digits, '_', '.', '-'; at most 64 characters; unique in the flow.",
    ),
]
PortName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


def nesting_depth(value: object, limit: int = MAX_DOCUMENT_DEPTH) -> int:
    """How deep lists and dicts nest in a decoded JSON value, counted without recursion and
    stopping once past `limit`."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


class Position(msgspec.Struct, forbid_unknown_fields=True):
    """Where the node sits on the canvas, in canvas pixels."""

    x: float = 0.0
    y: float = 0.0


class EdgeSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Back-pressure thresholds of the edge's queue: the producer blocks when either is reached."""

    max_batches: Annotated[
        int, msgspec.Meta(ge=1, le=1_000_000, description="Most batches the queue holds.")
    ] = 64
    max_bytes: Annotated[
        int,
        msgspec.Meta(ge=1, description="Most bytes of batch data the queue holds."),
    ] = 64 * 1024 * 1024


class Node(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One processor instance in the flow."""

    id: Id
    type: Annotated[str, msgspec.Meta(description="Processor type, as in the catalog.")]
    name: str = ""
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    position: Position = msgspec.field(default_factory=Position)


class Edge(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A connection from an output port of one node to an input port of another."""

    id: Id
    source: str
    source_port: PortName = "out"
    target: str
    target_port: PortName = "in"
    settings: Annotated[EdgeSettings, msgspec.Meta(title="Queue thresholds")] = msgspec.field(
        default_factory=EdgeSettings
    )


class FlowSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How the flow runs: its delivery guarantee and how often it checkpoints."""

    delivery: Annotated[
        Literal["at_least_once", "exactly_once"],
        msgspec.Meta(
            description="at_least_once: after a crash, records since the last checkpoint may "
            "be written again. exactly_once: sinks publish only checkpointed data; every sink "
            "of the flow must support it."
        ),
    ] = "at_least_once"
    checkpoint_interval_seconds: Annotated[
        float,
        msgspec.Meta(
            gt=0, le=3600, description="Seconds between checkpoints (where a restart resumes)."
        ),
    ] = 5.0


class Flow(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A DataFlow flow document: the unit people export, import and keep in git."""

    id: Annotated[
        str,
        msgspec.Meta(
            # The id names a journal stream and a URL path: the node id rule, or empty.
            pattern=r"^(|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$",
            description="Letters, digits, '_', '.', '-', at most 64 characters. Empty on "
            "create: the server assigns one.",
        ),
    ] = ""
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    description: str = ""
    format_version: Annotated[int, msgspec.Meta(ge=1, le=FORMAT_VERSION)] = FORMAT_VERSION
    nodes: list[Node] = msgspec.field(default_factory=list)
    edges: list[Edge] = msgspec.field(default_factory=list)
    settings: Annotated[FlowSettings, msgspec.Meta(title="Run settings")] = msgspec.field(
        default_factory=FlowSettings
    )

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def edge(self, edge_id: str) -> Edge | None:
        return next((e for e in self.edges if e.id == edge_id), None)


def new_id(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def flow_json_schema() -> dict[str, Any]:
    schema = msgspec.json.schema(Flow)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "/api/v1/schema/flow.json"
    return schema


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def to_builtins(flow: Flow) -> dict[str, Any]:
    return msgspec.to_builtins(flow)


def export_flow(flow: Flow) -> bytes:
    """Canonical JSON: sorted keys, nodes and edges by id, 2-space indent, trailing newline.

    Two exports of similar flows then diff line by line in git.
    """
    doc = to_builtins(flow)
    doc["nodes"] = sorted(doc["nodes"], key=lambda n: n["id"])
    doc["edges"] = sorted(doc["edges"], key=lambda e: e["id"])
    return msgspec.json.format(msgspec.json.encode(_canonical(doc)), indent=2) + b"\n"


def decode_flow(data: bytes | str) -> Flow:
    """Decode a flow document of any format version, migrated to the current one; raises
    msgspec.ValidationError / DecodeError with a JSON path."""
    return convert_flow(msgspec.json.decode(data))


def convert_flow(doc: Any) -> Flow:
    """A flow from decoded JSON of any format version, migrated to the current one."""
    return msgspec.convert(migrate(doc), type=Flow)


def migrate_flow(flow: Flow, to: int = FORMAT_VERSION) -> Flow:
    """The flow in format `to`: the journal folds old events in the format they were written
    in, and brings the flow up to date where newer events (or a reader) need it."""
    if flow.format_version >= to:
        return flow
    return msgspec.convert(migrate(to_builtins(flow), to), type=Flow)
