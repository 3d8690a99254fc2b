"""The plan a valid flow compiles to: what the engine consumes without checking again."""

from __future__ import annotations

import inspect

import pyarrow as pa
import pytest

from dataflow.graph import check_document, check_flow
from dataflow.processor import default_registry
from dataflow.runtime import FlowBuildError, FlowRun, engine
from dataflow.testing import ListSink, StaticSecrets, as_flow, registry_with
from dataflow_processors.filter import Filter, FilterConfig
from dataflow_processors.route import Route

REGISTRY = registry_with(Filter, Route)


def diamond() -> dict:
    """Nodes listed downstream first, so document order is not a topological order."""
    return {
        "nodes": [
            {"id": "sink", "type": "list_sink"},
            {"id": "big", "type": "filter", "config": {"condition": "amount > 100"}},
            {
                "id": "split",
                "type": "route",
                "config": {"rules": [{"port": "eu", "condition": "region = 'eu'"}]},
            },
            {
                "id": "src",
                "type": "list_source",
                "config": {"rows": [{"amount": 5.0, "region": "eu"}]},
            },
        ],
        "edges": [
            {"id": "e1", "source": "src", "target": "split"},
            {"id": "e2", "source": "split", "source_port": "eu", "target": "big"},
            {"id": "e3", "source": "split", "source_port": "unmatched", "target": "sink"},
            {"id": "e4", "source": "big", "source_port": "matched", "target": "sink"},
        ],
    }


def test_a_valid_flow_gives_a_plan_upstream_first_with_decoded_configs_and_ports():
    checked = check_document(diamond() | {"name": "d"}, REGISTRY)
    assert checked.report.valid
    plan = checked.plan
    assert plan is not None
    assert plan.order == ("src", "split", "big", "sink")
    big = plan.nodes["big"]
    assert big.cls is Filter
    assert isinstance(big.config, FilterConfig) and big.config.condition == "amount > 100"
    assert plan.nodes["split"].outputs == ("eu", "unmatched")
    assert plan.nodes["sink"].inputs == ("in",)
    assert plan.nodes["sink"].cls is ListSink
    assert [e.id for e in plan.edges] == ["e1", "e2", "e3", "e4"]


def test_the_plan_carries_the_schemas_validation_propagated():
    doc = diamond() | {"name": "d"}
    doc["nodes"][3]["type"] = "typed_source"

    from dataflow.processor import ProcessorSpec, Source
    from dataflow.testing import ListSourceConfig

    class TypedSource(Source[ListSourceConfig]):
        spec = ProcessorSpec(name="typed_source", category="source", summary="s", outputs=("out",))

        def output_schema(self, inputs):
            return {"out": pa.schema([("amount", pa.float64()), ("region", pa.string())])}

        async def batches(self):  # pragma: no cover - planned, never run
            yield pa.record_batch([])

    plan = check_document(doc, registry_with(Filter, Route, TypedSource)).plan
    assert plan is not None
    assert plan.schemas["big"]["matched"].names == ["amount", "region"]


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda d: d["nodes"][1].update(type="nope"), "unknown_type"),
        (lambda d: d["nodes"][1].update(config={"condition": 1}), "invalid_config"),
        (lambda d: d["edges"].pop(0), "input_not_connected"),
        (
            lambda d: d["edges"].append(
                {"id": "e5", "source": "big", "source_port": "unmatched", "target": "split"}
            ),
            "cycle",
        ),
    ],
)
def test_an_invalid_flow_gives_the_report_and_no_plan(mutate, code):
    doc = diamond() | {"name": "d"}
    mutate(doc)
    checked = check_document(doc, REGISTRY)
    assert checked.plan is None
    assert code in {i.code for i in checked.report.errors}


def test_warnings_alone_still_give_a_plan():
    doc = diamond() | {"name": "d"}
    doc["edges"].pop()  # big:matched no longer connected: a warning, not an error
    doc["nodes"].append({"id": "keep", "type": "list_sink"})
    doc["edges"].append({"id": "e4", "source": "big", "source_port": "unmatched", "target": "keep"})
    checked = check_document(doc, REGISTRY)
    assert [i.code for i in checked.report.warnings] == ["output_not_connected"]
    assert checked.plan is not None


def test_secrets_are_placeholders_in_the_plan_until_the_engine_asks_for_them():
    registry = default_registry()
    flow = as_flow(
        {
            "nodes": [
                {
                    "id": "src",
                    "type": "generate",
                    "config": {"count": 1, "columns": [{"name": "n", "kind": "sequence"}]},
                },
                {
                    "id": "pg",
                    "type": "postgres_write",
                    "config": {
                        "dsn": "postgresql://app@db/x",
                        "password": {"secret": "pg"},
                        "table": "t",
                    },
                },
            ],
            "edges": [{"id": "e1", "source": "src", "target": "pg"}],
        }
    )
    vault = StaticSecrets({"pg": "hunter2"})
    checked = check_flow(flow, registry, vault)
    assert checked.report.errors == []
    plan = checked.plan
    assert plan is not None
    assert plan.nodes["pg"].config.password == "********"
    resolved = plan.with_secrets(vault)
    assert resolved.nodes["pg"].config.password == "hunter2"
    assert resolved.nodes["src"] is plan.nodes["src"]  # only nodes with references decode again
    assert plan.nodes["pg"].config.password == "********"  # the checked plan is left as it was
    assert flow.nodes[1].config["password"] == {"secret": "pg"}


def test_the_engine_runs_the_plan_in_its_order_and_checks_nothing_itself():
    plan = check_document(diamond() | {"name": "d"}, REGISTRY).plan
    assert plan is not None
    run = FlowRun(plan)
    assert [r for r in run._runners] == list(plan.order)
    source = inspect.getsource(engine)
    for check in ("indegree", "a cycle", "does not exist", "has no output port", "used twice"):
        assert check not in source, check


def test_flow_run_of_refuses_an_invalid_flow_with_every_issue():
    doc = diamond() | {"name": "d"}
    doc["edges"].pop(0)
    doc["nodes"][1]["type"] = "nope"
    with pytest.raises(FlowBuildError) as info:
        FlowRun.of(as_flow(doc), REGISTRY)
    assert info.value.node_id == "big"
    assert {i.code for i in info.value.issues} == {"unknown_type", "input_not_connected"}


def test_a_plugin_that_breaks_at_design_time_is_an_error_on_its_node_not_a_crash():
    from dataflow.processor import ProcessorSpec, Source
    from dataflow.testing import ListSourceConfig

    class Broken(Source[ListSourceConfig]):
        spec = ProcessorSpec(name="broken", category="source", summary="s", outputs=("out",))

        def __init__(self, *args, **kwargs):
            raise RuntimeError("cannot start")

        async def batches(self):  # pragma: no cover - never built
            yield pa.record_batch([])

    doc = {
        "name": "b",
        "nodes": [{"id": "b", "type": "broken"}, {"id": "out", "type": "list_sink"}],
        "edges": [{"id": "e", "source": "b", "target": "out"}],
    }
    report = check_document(doc, registry_with(Broken)).report
    [error] = report.errors
    assert (error.path, error.code) == ("nodes[0]", "schema_error")
    assert "RuntimeError: cannot start" in error.message
