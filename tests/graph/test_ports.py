"""The validation report declares each node's ports for its config: the canvas draws them."""

from __future__ import annotations

import msgspec

from dataflow.graph import validate_document
from dataflow.processor import default_registry
from dataflow_processors.generate import Generate
from dataflow_processors.lookup_join import LookupJoin


def flow(*nodes: dict) -> dict:
    return {"name": "ports", "nodes": list(nodes), "edges": []}


def node(id: str, type: str, config: dict) -> dict:
    return {"id": id, "type": type, "config": config}


def ports_of(doc: dict) -> dict:
    _, report = validate_document(doc, default_registry())
    return msgspec.to_builtins(report.ports)


def test_lookup_join_ports_follow_its_unmatched_setting():
    example = LookupJoin.spec.examples[0]
    ports = ports_of(
        flow(
            node("keep", "lookup_join", {**example, "unmatched": "keep"}),
            node("route", "lookup_join", {**example, "unmatched": "route"}),
            node("fail", "lookup_join", {**example, "unmatched": "keep", "on_error": "route"}),
        )
    )
    assert ports == {
        "keep": {"inputs": ["in"], "outputs": ["out"]},
        "route": {"inputs": ["in"], "outputs": ["out", "unmatched"]},
        "fail": {"inputs": ["in"], "outputs": ["out", "failure"]},
    }


def test_route_has_one_port_per_rule_sources_no_inputs_sinks_no_outputs():
    rules = [{"port": "big", "condition": "amount > 100"}, {"port": "eu", "condition": "1=1"}]
    ports = ports_of(
        flow(
            node("gen", "generate", Generate.spec.examples[0]),
            node("split", "route", {"rules": rules}),
            node("out", "console", {}),
        )
    )
    assert ports["gen"] == {"inputs": [], "outputs": ["out"]}
    assert ports["split"] == {"inputs": ["in"], "outputs": ["big", "eu", "unmatched"]}
    assert ports["out"] == {"inputs": ["in"], "outputs": []}


def test_nodes_whose_config_does_not_decode_or_type_is_unknown_have_no_entry():
    ports = ports_of(
        flow(
            node("bad", "filter", {"condition": 5}),
            node("odd", "no_such_processor", {}),
            node("ok", "filter", {"condition": "a > 1"}),
        )
    )
    assert ports == {"ok": {"inputs": ["in"], "outputs": ["matched", "unmatched"]}}


def test_the_report_on_the_wire_carries_the_ports():
    doc = flow(node("ok", "filter", {"condition": "a > 1"}))
    _, report = validate_document(doc, default_registry())
    wire = msgspec.json.decode(msgspec.json.encode(report))
    assert wire["ports"] == {"ok": {"inputs": ["in"], "outputs": ["matched", "unmatched"]}}
