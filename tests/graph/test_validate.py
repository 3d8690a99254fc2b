"""One test per validation rule, each with the exact path and code it must report."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Annotated

import msgspec
import pyarrow as pa
import pytest

from dataflow.graph import validate_document, validate_flow
from dataflow.model import convert_flow
from dataflow.processor import (
    ProcessorConfig,
    ProcessorSpec,
    Registry,
    Sink,
    Source,
    ui,
)
from dataflow_processors.filter import Filter

ORDERS = pa.schema([("order_id", pa.int64()), ("amount", pa.float64()), ("status", pa.string())])


class OrdersConfig(ProcessorConfig, kw_only=True):
    """Emits orders."""

    batch_size: Annotated[int, ui("Batch size", ge=1)] = 100


class Orders(Source[OrdersConfig]):
    spec = ProcessorSpec(name="orders", category="source", summary="s", outputs=("out",))

    def output_schema(self, inputs: Mapping[str, pa.Schema]) -> Mapping[str, pa.Schema]:
        return {"out": ORDERS}

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:  # pragma: no cover - not run
        yield ORDERS.empty_table().to_batches()[0]


class DropConfig(ProcessorConfig, kw_only=True):
    """Discards."""


class Drop(Sink[DropConfig]):
    spec = ProcessorSpec(name="drop", category="sink", summary="s", inputs=("in",))

    def write(self, batch: pa.RecordBatch) -> None:
        return None


REGISTRY = Registry([Orders, Filter, Drop])


def node(id: str, type: str, **config) -> dict:
    return {"id": id, "type": type, "config": config, "position": {"x": 0, "y": 0}}


def edge(id: str, source: str, target: str, source_port: str = "out", target_port: str = "in"):
    return {
        "id": id,
        "source": source,
        "source_port": source_port,
        "target": target,
        "target_port": target_port,
    }


def doc(nodes: list, edges: list) -> dict:
    return {"id": "f", "name": "test", "nodes": nodes, "edges": edges}


def good() -> dict:
    return doc(
        [
            node("src", "orders"),
            node("paid", "filter", condition="status = 'paid'"),
            node("out", "drop"),
        ],
        [edge("e1", "src", "paid"), edge("e2", "paid", "out", source_port="matched")],
    )


def errors(document: dict) -> list[tuple[str, str]]:
    _, report = validate_document(document, REGISTRY)
    return [(i.path, i.code) for i in report.errors]


def test_valid_flow_has_no_errors_and_warns_about_unconnected_output():
    flow, report = validate_document(good(), REGISTRY)
    assert flow is not None and report.valid
    assert [(w.path, w.code, w.node_id) for w in report.warnings] == [
        ("nodes[1]", "output_not_connected", "paid")
    ]
    assert "port 'unmatched'" in report.warnings[0].message


def test_schemas_propagate_through_the_flow():
    _, report = validate_document(good(), REGISTRY)
    assert [c.name for c in report.schemas["paid"]["matched"]] == ["order_id", "amount", "status"]


def test_unknown_processor_type():
    d = good()
    d["nodes"][2]["type"] = "nope"
    assert errors(d) == [("nodes[2].type", "unknown_type")]


def test_config_type_error_names_the_field_path():
    d = good()
    d["nodes"][0]["config"] = {"batch_size": "ten"}
    _, report = validate_document(d, REGISTRY)
    (issue,) = report.errors
    assert (issue.path, issue.code, issue.node_id) == (
        "nodes[0].config.batch_size",
        "invalid_config",
        "src",
    )
    assert "Expected `int`, got `str`" in issue.message


def test_config_constraint_and_missing_and_unknown_fields():
    d = good()
    d["nodes"][0]["config"] = {"batch_size": 0}
    d["nodes"][1]["config"] = {}
    d["nodes"][2]["config"] = {"bogus": 1}
    assert errors(d) == [
        ("nodes[0].config.batch_size", "invalid_config"),
        ("nodes[1].config.condition", "invalid_config"),
        ("nodes[2].config.bogus", "invalid_config"),
    ]


def test_duplicate_node_and_edge_ids():
    d = good()
    d["nodes"].append(node("out", "drop"))
    d["edges"].append(edge("e1", "src", "out"))
    assert ("nodes[3].id", "duplicate_id") in errors(d)
    assert ("edges[2].id", "duplicate_id") in errors(d)


def test_edge_to_missing_node():
    d = good()
    d["edges"].append(edge("e3", "paid", "ghost", source_port="unmatched"))
    assert errors(d) == [("edges[2].target", "missing_node")]


def test_edge_from_unknown_port_lists_the_real_ports():
    d = good()
    d["edges"][1]["source_port"] = "yes"
    _, report = validate_document(d, REGISTRY)
    first = report.errors[0]
    assert (first.path, first.code) == ("edges[1].source_port", "unknown_port")
    assert "(its output ports: matched, unmatched)" in report.errors[0].message


def test_source_with_incoming_edge():
    d = good()
    d["edges"].append(edge("e3", "paid", "src", source_port="unmatched"))
    assert ("edges[2].target", "source_has_input") in errors(d)


def test_unconnected_required_input():
    d = good()
    del d["edges"][1]
    assert errors(d) == [("nodes[2]", "input_not_connected")]


def test_cycle_names_the_nodes_on_it():
    reg = Registry([Orders, Filter, Drop])
    d = doc(
        [
            node("src", "orders"),
            node("a", "filter", condition="true"),
            node("b", "filter", condition="true"),
        ],
        [edge("e1", "src", "a"), edge("e2", "a", "b", "matched"), edge("e3", "b", "a", "matched")],
    )
    _, report = validate_document(d, reg)
    cycles = [i for i in report.errors if i.code == "cycle"]
    assert len(cycles) == 1
    assert cycles[0].path == "nodes[1]"
    assert "a -> b -> a" in cycles[0].message


def test_missing_column_in_filter_is_a_design_time_error_on_the_field():
    d = good()
    d["nodes"][1]["config"]["condition"] = "amout > 100"
    _, report = validate_document(d, REGISTRY)
    (issue,) = report.errors
    assert (issue.path, issue.code, issue.node_id) == (
        "nodes[1].config.condition",
        "schema_error",
        "paid",
    )
    assert issue.message == (
        "filter in node 'paid': column \"amout\" does not exist "
        "(upstream columns: order_id, amount, status)"
    )


def test_every_problem_is_reported_at_once():
    d = good()
    d["nodes"][0]["config"] = {"batch_size": -1}
    d["nodes"][2]["type"] = "nope"
    d["edges"].append(edge("e3", "ghost", "paid"))
    assert len(errors(d)) == 3


def test_structural_errors_of_several_nodes_and_edges_all_reported():
    d = good()
    d["nodes"][0]["id"] = "bad id!"
    d["nodes"][1]["position"] = {"x": "left"}
    d["edges"][0]["settings"] = {"max_batches": 0}
    assert errors(d) == [
        ("nodes[0].id", "invalid_document"),
        ("nodes[1].position.x", "invalid_document"),
        ("edges[0].settings.max_batches", "invalid_document"),
    ]


def test_malformed_json_is_an_error_not_an_exception():
    flow, report = validate_document(b'{"name": ', REGISTRY)
    assert flow is None and report.errors[0].code == "invalid_json"


def test_missing_flow_name():
    d = good()
    del d["name"]
    assert errors(d) == [("name", "invalid_document")]


def test_validate_flow_accepts_structs():
    flow = convert_flow(good())
    assert validate_flow(flow, REGISTRY).valid


@pytest.mark.parametrize("bad", [[], "x", 3])
def test_document_must_be_an_object(bad):
    flow, report = validate_document(msgspec.json.encode(bad), REGISTRY)
    assert flow is None and report.errors[0].path == "$"


def test_exactly_once_is_refused_when_a_sink_cannot_do_it():
    d = good()
    d["settings"] = {"delivery": "exactly_once"}
    _, report = validate_document(d, REGISTRY)
    (issue,) = report.errors
    assert (issue.path, issue.code, issue.node_id) == ("nodes[2]", "delivery_unsupported", "out")
    assert "drop in node 'out': cannot deliver exactly once" in issue.message


def test_exactly_once_is_accepted_with_exactly_once_sinks():
    class ExactDrop(Drop):
        spec = ProcessorSpec(name="exact_drop", category="sink", summary="s", inputs=("in",))
        exactly_once = True

    d = good()
    d["settings"] = {"delivery": "exactly_once"}
    d["nodes"][2]["type"] = "exact_drop"
    _, report = validate_document(d, Registry([Orders, Filter, ExactDrop]))
    assert report.valid


def test_exactly_once_problem_of_a_sink_depends_on_its_config():
    from dataflow.processor import default_registry

    doc = {
        "id": "k",
        "name": "k",
        "settings": {"delivery": "exactly_once"},
        "nodes": [
            {
                "id": "src",
                "type": "generate",
                "config": {"count": 1, "columns": [{"kind": "sequence", "name": "n"}]},
            },
            {
                "id": "pub",
                "type": "kafka_publish",
                "config": {"bootstrap_servers": "127.0.0.1:9092", "topic": "t"},
            },
        ],
        "edges": [{"id": "e1", "source": "src", "target": "pub"}],
    }
    _, report = validate_document(doc, default_registry())
    (issue,) = report.errors
    assert (issue.code, issue.node_id) == ("delivery_unsupported", "pub")
    assert "transactional: true" in issue.message
    doc["nodes"][1]["config"]["transactional"] = True
    assert validate_document(doc, default_registry())[1].valid


def test_python_nodes_are_errors_while_a_python_gate_is_closed():
    from dataflow.graph import check_document
    from dataflow.processor import default_registry
    from dataflow.security.server_settings import NOT_ENABLED, python_gate

    doc = {
        "id": "p",
        "name": "p",
        "nodes": [
            {
                "id": "src",
                "type": "generate",
                "config": {"count": 1, "columns": [{"kind": "sequence", "name": "n"}]},
            },
            {"id": "code", "type": "python", "config": {"code": "def transform(t):\n  return t"}},
        ],
        "edges": [{"id": "e1", "source": "src", "target": "code"}],
    }
    registry = default_registry()
    assert check_document(doc, registry).report.valid  # no gate given: not checked here
    closed = check_document(doc, registry, python_gate=python_gate(True, False))
    (issue,) = closed.report.errors
    assert (issue.path, issue.code, issue.node_id) == ("nodes[1].type", "python_disabled", "code")
    assert issue.message.endswith(NOT_ENABLED) and "node 'code'" in issue.message
    assert closed.plan is None
    assert check_document(doc, registry, python_gate=python_gate(True, True)).report.valid
