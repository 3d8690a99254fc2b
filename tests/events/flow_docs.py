"""Flow documents for the design tests: one small flow and copy-with-changes helpers."""

import msgspec
from msgspec import UNSET

from dataflow.model import Edge, Flow, Node, Position

replace = msgspec.structs.replace


def base_flow() -> Flow:
    return Flow(
        id="f1",
        name="orders",
        description="paid orders",
        nodes=[
            Node(id="gen", type="generate", name="Generate", config={"count": 10, "seed": 1}),
            Node(id="filter-1", type="filter", config={"condition": "amount > 100"}),
            Node(id="out", type="console", position=Position(x=300.0, y=0.0)),
        ],
        edges=[
            Edge(id="e1", source="gen", target="filter-1"),
            Edge(id="e2", source="filter-1", source_port="matched", target="out"),
        ],
    )


def with_node(flow: Flow, node_id: str, **changes) -> Flow:
    nodes = [replace(n, **changes) if n.id == node_id else n for n in flow.nodes]
    return replace(flow, nodes=nodes)


def with_edge(flow: Flow, edge_id: str, **changes) -> Flow:
    edges = [replace(e, **changes) if e.id == edge_id else e for e in flow.edges]
    return replace(flow, edges=edges)


def with_config(flow: Flow, node_id: str, **config) -> Flow:
    node = flow.node(node_id)
    new = {k: v for k, v in {**node.config, **config}.items() if v is not UNSET}
    return with_node(flow, node_id, config=new)
