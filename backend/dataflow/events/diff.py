"""Flow document diff, the events between two documents, and three-way merge (pure functions)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from dataflow.events.flow_events import (
    EdgeAdded,
    EdgeRemoved,
    EdgeSettingsChanged,
    FlowDescribed,
    FlowEvent,
    FlowRenamed,
    FlowSettingsChanged,
    NodeAdded,
    NodeConfigChanged,
    NodeMoved,
    NodeRemoved,
    NodeRenamed,
    NodeTypeChanged,
)
from dataflow.model import Edge, Flow, FlowSettings, Node

# An edge's wiring: changing any of these replaces the edge (removed + added).
ENDPOINT_FIELDS = ("source", "source_port", "target", "target_port")


def same(a: Any, b: Any) -> bool:
    """Equality as JSON values: 1 == 1.0 (one JSON number) but true != 1, unlike Python's ==."""
    if a is UNSET or b is UNSET:
        return a is b
    return _json_equal(msgspec.to_builtins(a), msgspec.to_builtins(b))


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_json_equal, a, b))
    return (type(a) is type(b) or {type(a), type(b)} == {int, float}) and a == b


def same_flow(a: Flow, b: Flow) -> bool:
    """Equal content up to the order of nodes, edges and config keys, which carries no meaning."""
    return not diff_flows(a, b).changed


# ---------------------------------------------------------------------------- diff


class ValueChange(msgspec.Struct, omit_defaults=True):
    """`old` is left out for an added key, `new` for a removed one."""

    old: Any | UnsetType = UNSET
    new: Any | UnsetType = UNSET


class NodeChange(msgspec.Struct, kw_only=True):
    id: str
    name_changed: bool = False
    moved: bool = False
    type_changed: bool = False
    config_keys_changed: list[str] = msgspec.field(default_factory=list)
    config_changes: dict[str, ValueChange] = msgspec.field(default_factory=dict)


class EdgeChange(msgspec.Struct, kw_only=True):
    id: str
    settings_changed: bool = False
    endpoints_changed: bool = False


class FlowDiff(msgspec.Struct, kw_only=True):
    """What changed from document a to document b; `changed` is False for equal documents."""

    nodes_added: list[Node] = msgspec.field(default_factory=list)
    nodes_removed: list[Node] = msgspec.field(default_factory=list)
    nodes_changed: list[NodeChange] = msgspec.field(default_factory=list)
    edges_added: list[Edge] = msgspec.field(default_factory=list)
    edges_removed: list[Edge] = msgspec.field(default_factory=list)
    edges_changed: list[EdgeChange] = msgspec.field(default_factory=list)
    name_changed: bool = False
    description_changed: bool = False
    settings_changed: bool = False

    @property
    def changed(self) -> bool:
        return any(msgspec.structs.astuple(self))


def diff_flows(a: Flow, b: Flow) -> FlowDiff:
    diff = FlowDiff(
        name_changed=a.name != b.name,
        description_changed=a.description != b.description,
        settings_changed=a.settings != b.settings,
    )
    a_nodes, b_nodes = _by_id(a.nodes), _by_id(b.nodes)
    diff.nodes_removed = [n for n in a.nodes if n.id not in b_nodes]
    diff.nodes_added = [n for n in b.nodes if n.id not in a_nodes]
    for node in b.nodes:
        if (old := a_nodes.get(node.id)) is not None:
            change = _node_change(old, node)
            if change is not None:
                diff.nodes_changed.append(change)
    a_edges, b_edges = _by_id(a.edges), _by_id(b.edges)
    diff.edges_removed = [e for e in a.edges if e.id not in b_edges]
    diff.edges_added = [e for e in b.edges if e.id not in a_edges]
    for edge in b.edges:
        if (old_edge := a_edges.get(edge.id)) is not None:
            edge_change = EdgeChange(
                id=edge.id,
                settings_changed=not same(old_edge.settings, edge.settings),
                endpoints_changed=_endpoints(old_edge) != _endpoints(edge),
            )
            if edge_change.settings_changed or edge_change.endpoints_changed:
                diff.edges_changed.append(edge_change)
    return diff


def _node_change(old: Node, new: Node) -> NodeChange | None:
    config_changes = {
        key: ValueChange(old=old.config.get(key, UNSET), new=new.config.get(key, UNSET))
        for key in _keys(old.config, new.config)
        if not same(old.config.get(key, UNSET), new.config.get(key, UNSET))
    }
    change = NodeChange(
        id=new.id,
        name_changed=old.name != new.name,
        moved=not same(old.position, new.position),
        type_changed=old.type != new.type,
        config_keys_changed=list(config_changes),
        config_changes=config_changes,
    )
    if change.name_changed or change.moved or change.type_changed or config_changes:
        return change
    return None


def events_between(a: Flow, b: Flow) -> list[FlowEvent]:
    """The fine-grained events that turn document a into document b.

    Edges go before the nodes they leave and after the nodes they reach, so no
    intermediate state has an edge whose node is missing.
    """
    diff = diff_flows(a, b)
    events: list[FlowEvent] = []
    if diff.name_changed:
        events.append(FlowRenamed(name=b.name))
    if diff.description_changed:
        events.append(FlowDescribed(description=b.description))
    if diff.settings_changed:
        events.append(FlowSettingsChanged(settings=b.settings))
    b_nodes, b_edges = _by_id(b.nodes), _by_id(b.edges)
    rewired = [c.id for c in diff.edges_changed if c.endpoints_changed]
    events += [EdgeRemoved(edge_id=e.id) for e in diff.edges_removed]
    events += [EdgeRemoved(edge_id=edge_id) for edge_id in rewired]
    events += [NodeRemoved(node_id=n.id) for n in diff.nodes_removed]
    events += [NodeAdded(node=n) for n in diff.nodes_added]
    for change in diff.nodes_changed:
        node = b_nodes[change.id]
        if change.type_changed:
            events.append(NodeTypeChanged(node_id=node.id, node_type=node.type))
        if change.name_changed:
            events.append(NodeRenamed(node_id=node.id, name=node.name))
        if change.config_changes:
            set_ = {k: c.new for k, c in change.config_changes.items() if c.new is not UNSET}
            unset = [k for k, c in change.config_changes.items() if c.new is UNSET]
            events.append(NodeConfigChanged(node_id=node.id, set=set_, unset=unset))
        if change.moved:
            events.append(NodeMoved(node_id=node.id, position=node.position))
    events += [EdgeAdded(edge=e) for e in diff.edges_added]
    events += [EdgeAdded(edge=b_edges[edge_id]) for edge_id in rewired]
    for edge_change in diff.edges_changed:
        if edge_change.settings_changed and not edge_change.endpoints_changed:
            settings = b_edges[edge_change.id].settings
            events.append(EdgeSettingsChanged(edge_id=edge_change.id, settings=settings))
    return events


# ---------------------------------------------------------------------------- merge

ConflictKind = Literal["both_changed", "edited_and_deleted", "dangling_edge", "both_added"]


class Conflict(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One place both sides changed incompatibly; a value left out (UNSET) did not exist there.

    Node and edge values are plain JSON (dicts), so a conflict encodes as it reads.
    """

    path: str
    kind: ConflictKind
    node_id: str | None = None
    edge_id: str | None = None
    base: Any | UnsetType = UNSET
    current: Any | UnsetType = UNSET
    saved: Any | UnsetType = UNSET


class MergeConflict(Exception):
    """The two sides of a merge changed the same things differently.

    `current_version` is set by the store: the version the client must rebase on.
    """

    def __init__(self, conflicts: list[Conflict], current_version: int | None = None):
        paths = ", ".join(c.path for c in conflicts[:5])
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        super().__init__(f"{len(conflicts)} merge conflict(s): {paths}{more}")
        self.conflicts = conflicts
        self.current_version = current_version


def merge(base: Flow, current: Flow, saved: Flow) -> Flow:
    """Three-way merge of two documents derived from `base`; raises MergeConflict.

    Granularity: flow name and description, and per node its name, type, position and
    each config key; per edge each endpoint field and each settings field. Changes on
    one side only are taken; identical changes on both sides are not conflicts.
    """
    merger = _Merger()
    name = merger.value("name", base.name, current.name, saved.name)
    description = merger.value(
        "description", base.description, current.description, saved.description
    )
    settings = merger.value(
        "settings",
        msgspec.to_builtins(base.settings),
        msgspec.to_builtins(current.settings),
        msgspec.to_builtins(saved.settings),
    )
    nodes = merger.items("nodes", base.nodes, current.nodes, saved.nodes, _merge_node)
    edges = merger.items("edges", base.edges, current.edges, saved.edges, _merge_edge)
    merger.check_dangling(nodes, edges, base, current, saved)
    if merger.conflicts:
        raise MergeConflict(merger.conflicts)
    return msgspec.structs.replace(
        current,
        name=name,
        description=description,
        settings=msgspec.convert(settings, FlowSettings),
        nodes=nodes,
        edges=edges,
    )


class _Merger:
    def __init__(self) -> None:
        self.conflicts: list[Conflict] = []

    def value(self, path: str, base: Any, current: Any, saved: Any, **ids: str) -> Any:
        if same(current, base) or same(current, saved):
            return saved
        if same(saved, base):
            return current
        self.conflicts.append(
            Conflict(
                path=path,
                kind="both_changed",
                base=_json(base),
                current=_json(current),
                saved=_json(saved),
                **ids,
            )
        )
        return current

    def mapping(self, path: str, base: dict, current: dict, saved: dict, **ids: str) -> dict:
        merged: dict[str, Any] = {}
        for key in _keys(current, saved, base):
            value = self.value(
                f"{path}.{key}",
                base.get(key, UNSET),
                current.get(key, UNSET),
                saved.get(key, UNSET),
                **ids,
            )
            if value is not UNSET:
                merged[key] = value
        return merged

    def items(self, kind: str, base: list, current: list, saved: list, merge_one: Any) -> list:
        """Merge lists of nodes or edges by id, keeping current's order then saved's additions."""
        id_key = "node_id" if kind == "nodes" else "edge_id"
        b, c, s = _by_id(base), _by_id(current), _by_id(saved)
        merged = []
        for item_id in _keys(c, s):
            path, ids = f"{kind}[{item_id}]", {id_key: item_id}
            old, mine, theirs = b.get(item_id), c.get(item_id), s.get(item_id)
            if old is None:
                if mine is not None and theirs is not None and not same(mine, theirs):
                    self._conflict(path, "both_added", old, mine, theirs, ids)
                merged.append(mine if mine is not None else theirs)
            elif mine is None or theirs is None:
                # Deleted on one side: fine if the other side left it as it was.
                if not same(mine if mine is not None else theirs, old):
                    self._conflict(path, "edited_and_deleted", old, mine, theirs, ids)
            else:
                merged.append(merge_one(self, path, old, mine, theirs, ids))
        return merged

    def check_dangling(
        self, nodes: list[Node], edges: list[Edge], base: Flow, current: Flow, saved: Flow
    ) -> None:
        """Report merged edges whose node one side deleted while the other side wired to it.

        An edge that already dangles in the side it came from is that client's draft, not a
        conflict of the merge.
        """
        node_ids = {n.id for n in nodes}
        sides = [(_by_id(d.edges), _by_id(d.nodes)) for d in (current, saved)]
        base_nodes = _by_id(base.nodes)
        for edge in edges:
            for field in ("source", "target"):
                end = getattr(edge, field)
                if end in node_ids:
                    continue
                wired_by = [
                    side_nodes
                    for side_edges, side_nodes in sides
                    if (e := side_edges.get(edge.id)) is not None and getattr(e, field) == end
                ]
                if any(end not in side_nodes for side_nodes in wired_by):
                    continue
                self._conflict(
                    f"edges[{edge.id}].{field}",
                    "dangling_edge",
                    base_nodes.get(end),
                    sides[0][1].get(end),
                    sides[1][1].get(end),
                    {"edge_id": edge.id, "node_id": end},
                )

    def _conflict(
        self, path: str, kind: ConflictKind, base: Any, current: Any, saved: Any, ids: dict
    ) -> None:
        self.conflicts.append(
            Conflict(
                path=path,
                kind=kind,
                base=_plain(base),
                current=_plain(current),
                saved=_plain(saved),
                **ids,
            )
        )


def _merge_node(m: _Merger, path: str, base: Node, current: Node, saved: Node, ids: dict) -> Node:
    return Node(
        id=current.id,
        type=m.value(f"{path}.type", base.type, current.type, saved.type, **ids),
        name=m.value(f"{path}.name", base.name, current.name, saved.name, **ids),
        position=m.value(
            f"{path}.position", base.position, current.position, saved.position, **ids
        ),
        config=m.mapping(f"{path}.config", base.config, current.config, saved.config, **ids),
    )


def _merge_edge(m: _Merger, path: str, base: Edge, current: Edge, saved: Edge, ids: dict) -> Edge:
    wiring = m.mapping(
        path, _endpoints_dict(base), _endpoints_dict(current), _endpoints_dict(saved), **ids
    )
    settings = m.mapping(
        f"{path}.settings",
        msgspec.to_builtins(base.settings),
        msgspec.to_builtins(current.settings),
        msgspec.to_builtins(saved.settings),
        **ids,
    )
    return msgspec.convert({"id": current.id, **wiring, "settings": settings}, Edge)


# ---------------------------------------------------------------------------- helpers


def _by_id(items: list) -> dict[str, Any]:
    return {item.id: item for item in items}


def _keys(*mappings: dict) -> list[str]:
    """Keys of all mappings, in first-seen order (so merged documents keep a stable order)."""
    return list(dict.fromkeys(key for mapping in mappings for key in mapping))


def _endpoints(edge: Edge) -> tuple[str, ...]:
    return tuple(getattr(edge, f) for f in ENDPOINT_FIELDS)


def _endpoints_dict(edge: Edge) -> dict[str, str]:
    return {f: getattr(edge, f) for f in ENDPOINT_FIELDS}


def _plain(value: Any) -> Any:
    """A node or edge as plain JSON; None (absent on that side) becomes UNSET (left out)."""
    return UNSET if value is None else msgspec.to_builtins(value)


def _json(value: Any) -> Any:
    return value if value is UNSET else msgspec.to_builtins(value)
