"""Flow events, `apply`, `diff_flows` and `events_between`."""

import random

import msgspec
import pytest

from dataflow.events.diff import (
    EdgeChange,
    NodeChange,
    ValueChange,
    diff_flows,
    events_between,
    same_flow,
)
from dataflow.events.flow_events import (
    EdgeAdded,
    EdgeRemoved,
    EdgeSettingsChanged,
    FlowCreated,
    FlowDeleted,
    FlowDescribed,
    FlowRenamed,
    FlowReverted,
    NodeAdded,
    NodeConfigChanged,
    NodeMoved,
    NodeRemoved,
    NodeRenamed,
    NodeTypeChanged,
    apply,
    decode_event,
    encode_event,
    fold,
    summarize,
)
from dataflow.events.journal import RecordedEvent
from dataflow.model import Edge, EdgeSettings, Flow, Node, Position, export_flow
from tests.events.flow_docs import base_flow, replace, with_edge, with_node


def test_equal_documents_have_an_empty_diff_and_no_events():
    assert not diff_flows(base_flow(), base_flow()).changed
    assert events_between(base_flow(), base_flow()) == []


def test_order_of_nodes_edges_and_config_keys_is_not_a_change():
    a = base_flow()
    b = replace(
        a,
        nodes=[
            *reversed(a.nodes[1:]),
            with_node(a, "gen", config={"seed": 1, "count": 10}).nodes[0],
        ],
        edges=list(reversed(a.edges)),
    )
    assert same_flow(a, b)
    assert events_between(a, b) == []


def test_diff_node_added_and_removed():
    a = base_flow()
    sql = Node(id="sql", type="sql", config={"query": "select 1"})
    b = replace(a, nodes=[*[n for n in a.nodes if n.id != "out"], sql], edges=a.edges[:1])
    diff = diff_flows(a, b)
    assert diff.nodes_added == [sql]
    assert [n.id for n in diff.nodes_removed] == ["out"]
    assert [e.id for e in diff.edges_removed] == ["e2"]
    assert diff.nodes_changed == [] and diff.edges_added == []


def test_diff_node_renamed_moved_and_type_changed():
    a = base_flow()
    b = with_node(a, "out", name="Print", position=Position(x=310, y=5), type="write_file")
    assert diff_flows(a, b).nodes_changed == [
        NodeChange(id="out", name_changed=True, moved=True, type_changed=True)
    ]


def test_diff_config_lists_each_changed_key_with_old_and_new_value():
    a = base_flow()
    b = with_node(a, "gen", config={"count": 20, "rate": 5})
    (change,) = diff_flows(a, b).nodes_changed
    assert change.config_keys_changed == ["count", "seed", "rate"]
    assert change.config_changes == {
        "count": ValueChange(old=10, new=20),
        "seed": ValueChange(old=1),  # removed
        "rate": ValueChange(new=5),  # added
    }
    assert msgspec.to_builtins(change.config_changes["seed"]) == {"old": 1}


def test_config_values_compare_as_json_values():
    a = with_node(base_flow(), "gen", config={"count": 1, "flag": 1, "tags": ["a"]})
    b = with_node(base_flow(), "gen", config={"count": 1.0, "flag": True, "tags": ["a"]})
    (change,) = diff_flows(a, b).nodes_changed
    assert change.config_keys_changed == ["flag"]  # one JSON number, but true is not 1


def test_diff_edge_settings_and_endpoints_changed():
    a = base_flow()
    b = with_edge(a, "e1", settings=EdgeSettings(max_batches=1))
    b = with_edge(b, "e2", source_port="unmatched")
    assert diff_flows(a, b).edges_changed == [
        EdgeChange(id="e1", settings_changed=True),
        EdgeChange(id="e2", endpoints_changed=True),
    ]


def test_diff_flow_name_and_description():
    diff = diff_flows(base_flow(), replace(base_flow(), name="refunds", description=""))
    assert diff.name_changed and diff.description_changed
    assert diff.changed


def test_events_between_config_change_carries_only_changed_keys():
    a = base_flow()
    b = with_node(a, "gen", config={"count": 20, "seed": 1, "rate": 5})
    assert events_between(a, b) == [
        NodeConfigChanged(node_id="gen", set={"count": 20, "rate": 5}, unset=[])
    ]
    c = with_node(a, "gen", config={"count": 10})
    assert events_between(a, c) == [NodeConfigChanged(node_id="gen", unset=["seed"])]


def test_events_between_replaces_a_rewired_edge():
    a = base_flow()
    b = with_edge(a, "e2", source_port="unmatched", settings=EdgeSettings(max_batches=2))
    assert events_between(a, b) == [EdgeRemoved(edge_id="e2"), EdgeAdded(edge=b.edges[1])]


def test_events_between_orders_edges_around_the_nodes_they_touch():
    a = base_flow()
    new = Node(id="sink", type="console")
    b = replace(
        a,
        name="renamed",
        nodes=[a.nodes[0], a.nodes[1], new],
        edges=[a.edges[0], Edge(id="e3", source="filter-1", target="sink")],
    )
    assert events_between(a, b) == [
        FlowRenamed(name="renamed"),
        EdgeRemoved(edge_id="e2"),
        NodeRemoved(node_id="out"),
        NodeAdded(node=new),
        EdgeAdded(edge=b.edges[1]),
    ]


def test_events_between_node_field_changes():
    a = base_flow()
    b = with_node(a, "out", name="Print", type="write_file", position=Position(x=1, y=2))
    b = with_edge(replace(b, description="new"), "e1", settings=EdgeSettings(max_bytes=10))
    assert events_between(a, b) == [
        FlowDescribed(description="new"),
        NodeTypeChanged(node_id="out", node_type="write_file"),
        NodeRenamed(node_id="out", name="Print"),
        NodeMoved(node_id="out", position=Position(x=1, y=2)),
        EdgeSettingsChanged(edge_id="e1", settings=EdgeSettings(max_bytes=10)),
    ]


def test_apply_leaves_the_input_document_and_event_untouched():
    a = base_flow()
    before = export_flow(a)
    event = NodeConfigChanged(node_id="gen", set={"nested": {"k": [1]}})
    b = apply(a, event)
    b.node("gen").config["nested"]["k"].append(2)
    assert export_flow(a) == before
    assert event.set == {"nested": {"k": [1]}}


def test_apply_rejects_events_about_missing_nodes_and_edges():
    with pytest.raises(ValueError, match="no node 'nope'"):
        apply(base_flow(), NodeRenamed(node_id="nope", name="x"))
    with pytest.raises(ValueError, match="no edge 'nope'"):
        apply(base_flow(), EdgeRemoved(edge_id="nope"))
    with pytest.raises(ValueError, match="node 'gen' already exists"):
        apply(base_flow(), NodeAdded(node=Node(id="gen", type="generate")))


def test_markers_do_not_change_the_document():
    a = base_flow()
    assert apply(a, FlowReverted(to_version=2)) == a
    assert apply(a, FlowDeleted()) == a


def test_event_encodes_with_its_tag_and_decodes_back():
    event = NodeMoved(node_id="gen", position=Position(x=1, y=2))
    data = encode_event(event, {"flow_version": 3})
    assert data.type == "NodeMoved"
    assert msgspec.json.decode(data.data) == {
        "type": "NodeMoved",
        "node_id": "gen",
        "position": {"x": 1.0, "y": 2.0},
    }
    recorded = RecordedEvent(
        stream="flow-f1", version=1, position=1, recorded_at=0.0, **msgspec.structs.asdict(data)
    )
    assert decode_event(recorded) == event


def test_summary_names_what_changed():
    events = [
        NodeAdded(node=Node(id="filter-1", type="filter")),
        NodeConfigChanged(node_id="gen", set={"count": 2}, unset=["seed"]),
        NodeMoved(node_id="a", position=Position()),
        NodeMoved(node_id="b", position=Position()),
    ]
    assert summarize(events) == (
        "added node filter-1, changed config of node gen (count, seed), moved nodes a, b"
    )
    assert summarize([]) == "no changes"


# ------------------------------------------------------------ property-style round trip


def random_edit(flow: Flow, rng: random.Random, counter: list[int]) -> Flow:
    """One random canvas edit; edges are kept consistent the way the canvas keeps them."""
    counter[0] += 1
    n = counter[0]
    nodes, edges = list(flow.nodes), list(flow.edges)
    kind = rng.choice(["add_node", "remove_node", "config", "move", "rename", "edge", "flow"])
    if kind == "add_node" or not nodes:
        nodes.append(Node(id=f"n{n}", type=rng.choice(["filter", "sql"]), config={"k": n}))
    elif kind == "remove_node":
        gone = rng.choice(nodes).id
        nodes = [x for x in nodes if x.id != gone]
        edges = [e for e in edges if gone not in (e.source, e.target)]
    elif kind == "config":
        node = rng.choice(nodes)
        config = dict(node.config)
        config[rng.choice(["k", "a", "b"])] = rng.choice([n, str(n), None, [n], {"x": n}])
        if rng.random() < 0.3 and config:
            config.pop(rng.choice(sorted(config)))
        nodes = [replace(x, config=config) if x is node else x for x in nodes]
    elif kind == "move":
        node = rng.choice(nodes)
        position = Position(x=rng.randint(0, 500), y=rng.randint(0, 500))
        nodes = [replace(x, position=position) if x is node else x for x in nodes]
    elif kind == "rename":
        node = rng.choice(nodes)
        renamed = replace(node, name=f"node {n}", type=rng.choice(["filter", "sql", node.type]))
        nodes = [renamed if x is node else x for x in nodes]
    elif kind == "edge":
        if edges and rng.random() < 0.5:
            edge = rng.choice(edges)
            changed = rng.choice(
                [
                    {"settings": EdgeSettings(max_batches=n)},
                    {"target": rng.choice(nodes).id},
                    {"target_port": "other"},
                ]
            )
            edges = [replace(e, **changed) if e is edge else e for e in edges]
        else:
            source, target = rng.choice(nodes), rng.choice(nodes)
            edges.append(Edge(id=f"e{n}", source=source.id, target=target.id))
    else:
        flow = replace(flow, name=f"flow {n}", description=rng.choice(["", f"d{n}"]))
    return replace(flow, nodes=nodes, edges=edges)


def canonical(flow: Flow) -> bytes:
    """The export of the document as it would come back from JSON (positions as floats)."""
    return export_flow(msgspec.json.decode(msgspec.json.encode(flow), type=Flow))


@pytest.mark.parametrize("seed", range(5))
def test_events_between_then_apply_gives_back_the_target(seed):
    rng = random.Random(seed)
    counter = [0]
    flow = base_flow()
    history = [FlowCreated(flow=flow)]
    for _ in range(40):
        target = flow
        for _ in range(rng.randint(1, 4)):
            target = random_edit(target, rng, counter)
        events = events_between(flow, target)
        # Through the journal's encoding too, as the store does.
        events = [decode_event(encode_event(e, {}).data) for e in events]
        history += events
        result = fold(events, flow)
        assert canonical(result) == canonical(target)
        assert events_between(result, target) == []
        flow = result
    assert canonical(fold(history)) == canonical(flow)


def test_settings_change_is_one_event_and_applies():
    from dataflow.events.flow_events import FlowSettingsChanged, fold
    from dataflow.model import FlowSettings

    a = base_flow()
    b = replace(a, settings=FlowSettings(delivery="exactly_once", checkpoint_interval_seconds=2))
    assert diff_flows(a, b).settings_changed
    events = events_between(a, b)
    assert events == [FlowSettingsChanged(settings=b.settings)]
    assert fold(events, a).settings == b.settings
