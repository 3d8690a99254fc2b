"""Flow validation as a networkx graph: structure, configs, ports, cycles, schemas; the plan a
valid flow compiles to."""

from dataflow.graph.issues import Issue, ValidationReport
from dataflow.graph.plan import FlowPlan, NodePlan
from dataflow.graph.validate import (
    Checked,
    check_document,
    check_flow,
    validate_document,
    validate_flow,
)

__all__ = [
    "Checked",
    "FlowPlan",
    "Issue",
    "NodePlan",
    "ValidationReport",
    "check_document",
    "check_flow",
    "validate_document",
    "validate_flow",
]
