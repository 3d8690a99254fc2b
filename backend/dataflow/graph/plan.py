"""The plan a valid flow compiles to: what the engine runs, with nothing left to check."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import pyarrow as pa

from dataflow.model import Edge, Flow, Node
from dataflow.processor import Processor, ProcessorConfig
from dataflow.secrets import Secrets, find_refs, resolve_config


@dataclass(frozen=True)
class NodePlan:
    """One node: its processor class, its decoded config and the ports that config gives."""

    node: Node
    cls: type[Processor]
    config: ProcessorConfig
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.node.id


@dataclass(frozen=True)
class FlowPlan:
    """A flow that passed validation: unique ids, known types, configs that decode, edges
    between existing ports, every input connected, no cycle.

    `nodes` is in topological order (upstream first, ties in document order); `schemas`
    holds the propagated output schemas where they are known (node id -> port -> schema).
    Configs of secret fields hold a placeholder until `with_secrets` resolves them.
    """

    flow: Flow
    nodes: Mapping[str, NodePlan]
    edges: tuple[Edge, ...]
    schemas: Mapping[str, Mapping[str, pa.Schema]]

    def __iter__(self) -> Iterator[NodePlan]:
        return iter(self.nodes.values())

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(self.nodes)

    def with_secrets(self, secrets: Secrets | None) -> FlowPlan:
        """The plan with secret references decoded to their values (for the engine only:
        the result must never be journaled or shown). Only nodes that refer to a secret are
        decoded again; KeyError names a secret that went away since validation."""
        if secrets is None or not any(find_refs(p.node.config) for p in self):
            return self
        nodes = {
            node_id: (
                replace(p, config=p.cls.parse_config(resolve_config(p.node.config, secrets)))
                if any(find_refs(p.node.config))
                else p
            )
            for node_id, p in self.nodes.items()
        }
        return replace(self, nodes=MappingProxyType(nodes))
