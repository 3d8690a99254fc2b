"""Flow validation as a networkx graph: structure, configs, ports, cycles, schemas."""

from dataflow.graph.issues import Issue, ValidationReport
from dataflow.graph.validate import validate_document, validate_flow

__all__ = ["Issue", "ValidationReport", "validate_document", "validate_flow"]
