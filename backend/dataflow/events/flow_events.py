"""Events of the flow design aggregate: a msgspec tagged union, folded into a Flow by `apply`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from dataflow.events.journal import EventData, RecordedEvent
from dataflow.model import Edge, EdgeSettings, Flow, FlowSettings, Node, Position


class FlowEvent(msgspec.Struct, tag_field="type", frozen=True, kw_only=True):
    """One fine-grained change of a flow document; the tag is the class name."""


class FlowCreated(FlowEvent, frozen=True):
    flow: Flow


class NodeAdded(FlowEvent, frozen=True):
    node: Node


class NodeRemoved(FlowEvent, frozen=True):
    node_id: str


class NodeConfigChanged(FlowEvent, frozen=True):
    """Only the keys that changed: `set` holds new or changed keys, `unset` removed ones."""

    node_id: str
    set: dict[str, Any] = msgspec.field(default_factory=dict)
    unset: list[str] = msgspec.field(default_factory=list)


class NodeRenamed(FlowEvent, frozen=True):
    node_id: str
    name: str


class NodeMoved(FlowEvent, frozen=True):
    node_id: str
    position: Position


class NodeTypeChanged(FlowEvent, frozen=True):
    # `type` is the tag field, hence `node_type`.
    node_id: str
    node_type: str


class EdgeAdded(FlowEvent, frozen=True):
    edge: Edge


class EdgeRemoved(FlowEvent, frozen=True):
    edge_id: str


class EdgeSettingsChanged(FlowEvent, frozen=True):
    edge_id: str
    settings: EdgeSettings


class FlowRenamed(FlowEvent, frozen=True):
    name: str


class FlowDescribed(FlowEvent, frozen=True):
    description: str


class FlowSettingsChanged(FlowEvent, frozen=True):
    settings: FlowSettings


class FlowDeleted(FlowEvent, frozen=True):
    """Soft delete: the stream stays readable for audit."""


class FlowReverted(FlowEvent, frozen=True):
    """A marker: the revert's effect is the fine-grained events that follow it in the same save."""

    to_version: int


AnyFlowEvent = (
    FlowCreated
    | NodeAdded
    | NodeRemoved
    | NodeConfigChanged
    | NodeRenamed
    | NodeMoved
    | NodeTypeChanged
    | EdgeAdded
    | EdgeRemoved
    | EdgeSettingsChanged
    | FlowRenamed
    | FlowDescribed
    | FlowSettingsChanged
    | FlowDeleted
    | FlowReverted
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyFlowEvent)


def event_type(event: FlowEvent | type[FlowEvent]) -> str:
    cls = event if isinstance(event, type) else type(event)
    tag = cls.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{cls.__name__} is not a tagged flow event")
    return tag


def encode_event(event: FlowEvent, metadata: dict[str, Any]) -> EventData:
    return EventData(type=event_type(event), data=_encoder.encode(event), metadata=metadata)


def decode_event(recorded: RecordedEvent | bytes) -> FlowEvent:
    data = recorded if isinstance(recorded, bytes) else recorded.data
    return _decoder.decode(data)


def apply(flow: Flow | None, event: FlowEvent) -> Flow:
    """The flow after `event`. Never mutates `flow` or `event`: old versions stay intact."""
    if isinstance(event, FlowCreated):
        return _copy(event.flow)
    if flow is None:
        raise ValueError(f"{event_type(event)} before FlowCreated")
    replace = msgspec.structs.replace
    match event:
        case NodeAdded(node=node):
            if flow.node(node.id) is not None:
                raise ValueError(f"node {node.id!r} already exists")
            return replace(flow, nodes=[*flow.nodes, _copy(node)])
        case NodeRemoved(node_id=node_id):
            _node(flow, node_id)
            return replace(flow, nodes=[n for n in flow.nodes if n.id != node_id])
        case NodeConfigChanged(node_id=node_id, set=set_, unset=unset):
            config = {k: v for k, v in _node(flow, node_id).config.items() if k not in unset}
            config.update(msgspec.json.decode(_encoder.encode(set_)))  # deep copy
            return _replace_node(flow, node_id, config=config)
        case NodeRenamed(node_id=node_id, name=name):
            return _replace_node(flow, node_id, name=name)
        case NodeMoved(node_id=node_id, position=position):
            return _replace_node(flow, node_id, position=Position(x=position.x, y=position.y))
        case NodeTypeChanged(node_id=node_id, node_type=node_type):
            return _replace_node(flow, node_id, type=node_type)
        case EdgeAdded(edge=edge):
            if flow.edge(edge.id) is not None:
                raise ValueError(f"edge {edge.id!r} already exists")
            return replace(flow, edges=[*flow.edges, _copy(edge)])
        case EdgeRemoved(edge_id=edge_id):
            _edge(flow, edge_id)
            return replace(flow, edges=[e for e in flow.edges if e.id != edge_id])
        case EdgeSettingsChanged(edge_id=edge_id, settings=settings):
            _edge(flow, edge_id)
            edges = [
                replace(e, settings=_copy(settings)) if e.id == edge_id else e for e in flow.edges
            ]
            return replace(flow, edges=edges)
        case FlowRenamed(name=name):
            return replace(flow, name=name)
        case FlowDescribed(description=description):
            return replace(flow, description=description)
        case FlowSettingsChanged(settings=settings):
            return replace(flow, settings=settings)
        case FlowDeleted() | FlowReverted():
            return flow
    raise TypeError(f"unknown flow event {event!r}")


def fold(events: Iterable[FlowEvent], flow: Flow | None = None) -> Flow | None:
    for event in events:
        flow = apply(flow, event)
    return flow


def summarize(events: Iterable[FlowEvent]) -> str:
    """Short human text for a version list, e.g. 'added node filter-1, changed config of node
    gen (count)'."""
    parts: list[str] = []
    moved: list[str] = []
    for event in events:
        match event:
            case FlowCreated(flow=flow):
                parts.append(f"created flow {flow.name!r}")
            case NodeAdded(node=node):
                parts.append(f"added node {node.id}")
            case NodeRemoved(node_id=node_id):
                parts.append(f"removed node {node_id}")
            case NodeConfigChanged(node_id=node_id, set=set_, unset=unset):
                keys = ", ".join(sorted([*set_, *unset]))
                parts.append(f"changed config of node {node_id} ({keys})")
            case NodeRenamed(node_id=node_id):
                parts.append(f"renamed node {node_id}")
            case NodeMoved(node_id=node_id):
                # Dragging moves many nodes at once: one phrase for all of them.
                moved.append(node_id)
            case NodeTypeChanged(node_id=node_id, node_type=node_type):
                parts.append(f"changed type of node {node_id} to {node_type}")
            case EdgeAdded(edge=edge):
                parts.append(f"added edge {edge.id}")
            case EdgeRemoved(edge_id=edge_id):
                parts.append(f"removed edge {edge_id}")
            case EdgeSettingsChanged(edge_id=edge_id):
                parts.append(f"changed settings of edge {edge_id}")
            case FlowRenamed(name=name):
                parts.append(f"renamed flow to {name!r}")
            case FlowDescribed():
                parts.append("changed description")
            case FlowSettingsChanged():
                parts.append("changed flow settings")
            case FlowDeleted():
                parts.append("deleted flow")
            case FlowReverted(to_version=version):
                parts.append(f"reverted to version {version}")
    if moved:
        parts.append(f"moved node{'s' if len(moved) > 1 else ''} {', '.join(moved)}")
    if len(parts) > 8:
        parts = [*parts[:7], f"and {len(parts) - 7} more changes"]
    return ", ".join(parts) or "no changes"


def _copy(value: Any) -> Any:
    # Events and documents share no mutable parts, so editing one never rewrites the other.
    return msgspec.json.decode(_encoder.encode(value), type=type(value))


def _node(flow: Flow, node_id: str) -> Node:
    node = flow.node(node_id)
    if node is None:
        raise ValueError(f"no node {node_id!r} in flow {flow.id!r}")
    return node


def _edge(flow: Flow, edge_id: str) -> Edge:
    edge = flow.edge(edge_id)
    if edge is None:
        raise ValueError(f"no edge {edge_id!r} in flow {flow.id!r}")
    return edge


def _replace_node(flow: Flow, node_id: str, **changes: Any) -> Flow:
    _node(flow, node_id)
    nodes = [msgspec.structs.replace(n, **changes) if n.id == node_id else n for n in flow.nodes]
    return msgspec.structs.replace(flow, nodes=nodes)
