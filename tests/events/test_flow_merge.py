"""Three-way merge of flow documents: what merges cleanly, and each kind of conflict."""

import msgspec
import pytest
from msgspec import UNSET

from dataflow.events.diff import Conflict, MergeConflict, merge, same_flow
from dataflow.model import Edge, EdgeSettings, Flow, Node, Position
from tests.events.flow_docs import base_flow, replace, with_config, with_edge, with_node


def without_node(flow: Flow, node_id: str) -> Flow:
    """Delete a node and its edges, as the canvas does."""
    return replace(
        flow,
        nodes=[n for n in flow.nodes if n.id != node_id],
        edges=[e for e in flow.edges if node_id not in (e.source, e.target)],
    )


def conflicts_of(base: Flow, current: Flow, saved: Flow) -> list[Conflict]:
    with pytest.raises(MergeConflict) as info:
        merge(base, current, saved)
    return info.value.conflicts


# ------------------------------------------------------------------ clean merges


def test_edits_of_different_nodes_merge():
    base = base_flow()
    current = with_config(base, "gen", count=20)
    saved = with_node(base, "out", name="Print")
    expected = with_node(with_config(base, "gen", count=20), "out", name="Print")
    assert merge(base, current, saved) == expected


def test_different_config_keys_of_one_node_merge():
    base = base_flow()
    current = with_config(base, "gen", count=20)
    saved = with_config(base, "gen", seed=UNSET, rate=5)
    assert merge(base, current, saved).node("gen").config == {"count": 20, "rate": 5}


def test_a_move_and_a_config_change_of_one_node_merge():
    base = base_flow()
    current = with_node(base, "filter-1", position=Position(x=50.0, y=60.0))
    saved = with_config(base, "filter-1", condition="amount > 500")
    node = merge(base, current, saved).node("filter-1")
    assert node.position == Position(x=50.0, y=60.0)
    assert node.config == {"condition": "amount > 500"}


def test_additions_on_both_sides_merge_in_current_then_saved_order():
    base = base_flow()
    sql = Node(id="sql", type="sql")
    sink = Node(id="sink", type="console")
    current = replace(base, nodes=[*base.nodes, sql])
    saved = replace(
        base,
        nodes=[*base.nodes, sink],
        edges=[*base.edges, Edge(id="e3", source="filter-1", target="sink")],
    )
    merged = merge(base, current, saved)
    assert [n.id for n in merged.nodes] == ["gen", "filter-1", "out", "sql", "sink"]
    assert [e.id for e in merged.edges] == ["e1", "e2", "e3"]


def test_a_deletion_merges_when_the_other_side_left_the_node_alone():
    base = base_flow()
    current = without_node(base, "out")
    saved = with_config(base, "gen", count=20)
    merged = merge(base, current, saved)
    assert merged == with_config(without_node(base, "out"), "gen", count=20)


def test_identical_changes_on_both_sides_are_not_conflicts():
    base = base_flow()
    both = with_config(with_node(base, "out", name="Print"), "gen", count=20)
    both = replace(both, name="renamed", nodes=[*both.nodes, Node(id="new", type="sql")])
    assert same_flow(merge(base, both, both), both)


def test_flow_name_and_description_merge_from_either_side():
    base = base_flow()
    merged = merge(base, replace(base, name="refunds"), replace(base, description="all"))
    assert (merged.name, merged.description) == ("refunds", "all")


def test_rewiring_one_end_and_changing_settings_merge():
    base = base_flow()
    current = with_edge(base, "e2", source_port="unmatched")
    saved = with_edge(base, "e2", settings=EdgeSettings(max_batches=1))
    edge = merge(base, current, saved).edge("e2")
    assert (edge.source_port, edge.settings.max_batches) == ("unmatched", 1)


# ------------------------------------------------------------------ conflicts


def test_same_config_key_changed_differently_conflicts():
    base = base_flow()
    current = with_config(base, "filter-1", condition="amount > 1")
    saved = with_config(base, "filter-1", condition="amount > 2")
    assert conflicts_of(base, current, saved) == [
        Conflict(
            path="nodes[filter-1].config.condition",
            kind="both_changed",
            node_id="filter-1",
            base="amount > 100",
            current="amount > 1",
            saved="amount > 2",
        )
    ]


def test_config_key_removed_on_one_side_and_changed_on_the_other_conflicts():
    base = base_flow()
    (conflict,) = conflicts_of(
        base, with_config(base, "gen", seed=UNSET), with_config(base, "gen", seed=7)
    )
    assert (conflict.path, conflict.base, conflict.current, conflict.saved) == (
        "nodes[gen].config.seed",
        1,
        UNSET,
        7,
    )
    assert "current" not in msgspec.to_builtins(conflict)  # absent, not null


def test_same_node_moved_differently_conflicts():
    base = base_flow()
    current = with_node(base, "out", position=Position(x=1.0, y=1.0))
    saved = with_node(base, "out", position=Position(x=2.0, y=2.0))
    assert conflicts_of(base, current, saved) == [
        Conflict(
            path="nodes[out].position",
            kind="both_changed",
            node_id="out",
            base={"x": 300.0, "y": 0.0},
            current={"x": 1.0, "y": 1.0},
            saved={"x": 2.0, "y": 2.0},
        )
    ]


def test_same_node_renamed_differently_conflicts():
    base = base_flow()
    (conflict,) = conflicts_of(
        base, with_node(base, "gen", name="A"), with_node(base, "gen", name="B")
    )
    assert (conflict.path, conflict.base, conflict.current, conflict.saved) == (
        "nodes[gen].name",
        "Generate",
        "A",
        "B",
    )


def test_node_edited_on_one_side_and_deleted_on_the_other_conflicts():
    base = base_flow()
    edited = with_config(base, "out", limit=5)
    (conflict,) = conflicts_of(base, edited, without_node(base, "out"))
    assert conflict.path == "nodes[out]"
    assert conflict.kind == "edited_and_deleted"
    assert conflict.node_id == "out"
    assert conflict.base == msgspec.to_builtins(base.node("out"))
    assert conflict.current == msgspec.to_builtins(edited.node("out"))
    assert conflict.saved is UNSET
    # And the mirror image: deleted on the current side.
    (mirror,) = conflicts_of(base, without_node(base, "out"), edited)
    assert (mirror.path, mirror.current, mirror.saved) == (
        "nodes[out]",
        UNSET,
        msgspec.to_builtins(edited.node("out")),
    )


def test_edge_edited_on_one_side_and_deleted_on_the_other_conflicts():
    base = base_flow()
    current = replace(base, edges=base.edges[:1])
    saved = with_edge(base, "e2", settings=EdgeSettings(max_batches=1))
    (conflict,) = conflicts_of(base, current, saved)
    assert (conflict.path, conflict.kind, conflict.edge_id) == (
        "edges[e2]",
        "edited_and_deleted",
        "e2",
    )
    assert conflict.saved["settings"]["max_batches"] == 1


def test_edge_added_to_a_node_deleted_on_the_other_side_conflicts():
    base = base_flow()
    current = without_node(base, "out")
    sink = Edge(id="e3", source="gen", target="out")
    saved = replace(base, edges=[*base.edges, sink])
    assert conflicts_of(base, current, saved) == [
        Conflict(
            path="edges[e3].target",
            kind="dangling_edge",
            node_id="out",
            edge_id="e3",
            base=msgspec.to_builtins(base.node("out")),
            saved=msgspec.to_builtins(base.node("out")),
        )
    ]


def test_edge_rewired_to_a_node_deleted_on_the_other_side_conflicts():
    base = base_flow()
    current = with_edge(base, "e1", target="out")
    saved = replace(base, nodes=[n for n in base.nodes if n.id != "out"], edges=base.edges[:1])
    (conflict,) = conflicts_of(base, current, saved)
    assert (conflict.path, conflict.kind, conflict.node_id) == (
        "edges[e1].target",
        "dangling_edge",
        "out",
    )


def test_an_edge_dangling_in_the_client_draft_is_not_a_merge_conflict():
    base = base_flow()
    draft = replace(base, edges=[*base.edges, Edge(id="e9", source="gen", target="ghost")])
    merged = merge(base, with_config(base, "gen", count=1), draft)
    assert merged.edge("e9") is not None


def test_same_id_added_with_different_content_conflicts():
    base = base_flow()
    current = replace(base, nodes=[*base.nodes, Node(id="new", type="sql")])
    saved = replace(base, nodes=[*base.nodes, Node(id="new", type="filter")])
    (conflict,) = conflicts_of(base, current, saved)
    assert (conflict.path, conflict.kind, conflict.node_id, conflict.base) == (
        "nodes[new]",
        "both_added",
        "new",
        UNSET,
    )
    assert (conflict.current["type"], conflict.saved["type"]) == ("sql", "filter")


def test_flow_name_and_description_changed_differently_conflict():
    base = base_flow()
    current = replace(base, name="A", description="a")
    saved = replace(base, name="B", description="b")
    assert conflicts_of(base, current, saved) == [
        Conflict(path="name", kind="both_changed", base="orders", current="A", saved="B"),
        Conflict(
            path="description", kind="both_changed", base="paid orders", current="a", saved="b"
        ),
    ]


def test_merge_conflict_lists_every_conflict_and_names_them():
    base = base_flow()
    current = with_config(replace(base, name="A"), "gen", count=1)
    saved = with_config(replace(base, name="B"), "gen", count=2)
    with pytest.raises(MergeConflict, match=r"2 merge conflict\(s\): name, nodes\[gen\]"):
        merge(base, current, saved)


def test_flow_settings_merge_and_conflict():
    from dataflow.model import FlowSettings

    base = base_flow()
    current = replace(base, settings=FlowSettings(delivery="exactly_once"))
    saved = with_node(base, "gen", name="Gen")
    merged = merge(base, current, saved)
    assert merged.settings.delivery == "exactly_once" and merged.node("gen").name == "Gen"
    other = replace(base, settings=FlowSettings(checkpoint_interval_seconds=1))
    with pytest.raises(MergeConflict) as conflict:
        merge(base, current, other)
    assert [c.path for c in conflict.value.conflicts] == ["settings"]
