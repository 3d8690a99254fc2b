"""Validate a flow document as a graph and propagate schemas; every problem at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import msgspec
import networkx as nx
import pyarrow as pa

from dataflow.graph.issues import Column, Issue, NodePorts, ValidationReport, msgspec_issue
from dataflow.graph.plan import FlowPlan, NodePlan
from dataflow.migrations import migrate
from dataflow.model import MAX_DOCUMENT_DEPTH, Edge, Flow, Node, nesting_depth
from dataflow.processor import (
    Context,
    Processor,
    ProcessorConfig,
    Registry,
    SchemaError,
    Sink,
    Source,
)
from dataflow.processor.reach import Reach
from dataflow.secrets import Secrets, find_refs, secret_fields, substitute


class _LooseFlow(msgspec.Struct, kw_only=True):
    """The document's top level with nodes and edges left raw, so each is checked alone."""

    id: str = ""
    name: Any = None
    description: Any = ""
    format_version: Any = 1
    nodes: list[Any] = msgspec.field(default_factory=list)
    edges: list[Any] = msgspec.field(default_factory=list)
    settings: Any = msgspec.UNSET


@dataclass(frozen=True)
class Checked:
    """What checking a document gives: the decoded flow when its structure is valid, the
    report, and the plan to run when the flow is valid as a whole."""

    flow: Flow | None
    report: ValidationReport
    plan: FlowPlan | None = None


#: Processor types that run code given in the flow: they need both of a server's python gates.
USER_CODE_TYPES = frozenset({"python"})


def check_document(
    doc: Any,
    registry: Registry,
    secrets: Secrets | None = None,
    reach: Reach | None = None,
    *,
    python_gate: str | None = None,
) -> Checked:
    """Check raw JSON (bytes or decoded): structural errors of every node and edge, then the
    graph rules. The document is decoded once, here. `python_gate` as in check_flow."""
    if isinstance(doc, bytes | str):
        try:
            doc = msgspec.json.decode(doc)
        except msgspec.DecodeError as exc:
            issue = Issue(path="$", code="invalid_json", message=str(exc))
            return Checked(flow=None, report=_report([issue], []))
    if nesting_depth(doc) > MAX_DOCUMENT_DEPTH:
        issue = Issue(
            path="$",
            code="too_deep",
            message=f"the document nests objects or lists deeper than {MAX_DOCUMENT_DEPTH} levels",
        )
        return Checked(flow=None, report=_report([issue], []))
    # Format migration: an older document is rewritten into the current shapes before
    # anything looks at it (dataflow.migrations); keep this the one place it happens here.
    doc = migrate(doc)
    try:
        loose = msgspec.convert(doc, type=_LooseFlow)
    except msgspec.ValidationError as exc:
        return Checked(flow=None, report=_report([msgspec_issue(exc, "")], []))

    errors: list[Issue] = []
    nodes: list[Node] = []
    edges: list[Edge] = []
    for i, raw in enumerate(loose.nodes):
        try:
            nodes.append(msgspec.convert(raw, type=Node))
        except msgspec.ValidationError as exc:
            errors.append(msgspec_issue(exc, f"nodes[{i}]", **_raw_id(raw, "node_id")))
    for i, raw in enumerate(loose.edges):
        try:
            edges.append(msgspec.convert(raw, type=Edge))
        except msgspec.ValidationError as exc:
            errors.append(msgspec_issue(exc, f"edges[{i}]", **_raw_id(raw, "edge_id")))
    top = {
        k: v
        for k, v in msgspec.structs.asdict(loose).items()
        if k not in ("nodes", "edges") and v is not msgspec.UNSET
    }
    try:
        flow = msgspec.convert({**top, "nodes": [], "edges": []}, type=Flow)
    except msgspec.ValidationError as exc:
        errors.append(msgspec_issue(exc, ""))
        flow = None
    if errors or flow is None:
        return Checked(flow=None, report=_report(errors, []))
    flow.nodes, flow.edges = nodes, edges
    return check_flow(flow, registry, secrets, reach, python_gate=python_gate)


def check_flow(
    flow: Flow,
    registry: Registry,
    secrets: Secrets | None = None,
    reach: Reach | None = None,
    *,
    python_gate: str | None = None,
) -> Checked:
    """Every problem of a decoded flow, and its plan when there is none; with `secrets`,
    references to unknown secrets are problems too; with `reach`, what the nodes would touch
    outside the server's file roots and allowed hosts. `python_gate` is why the server runs
    no `python` node (ServerSettingsStore.python_gate()): each one is then an error."""
    return _Validator(flow, registry, secrets, reach, python_gate).run()


def validate_document(
    doc: Any, registry: Registry, secrets: Secrets | None = None
) -> tuple[Flow | None, ValidationReport]:
    """`check_document` without the plan: the decoded flow (None when its structure is
    invalid) and the report."""
    checked = check_document(doc, registry, secrets)
    return checked.flow, checked.report


def validate_flow(
    flow: Flow, registry: Registry, secrets: Secrets | None = None
) -> ValidationReport:
    """Every problem of the flow; with `secrets`, references to unknown secrets too."""
    return check_flow(flow, registry, secrets).report


def _raw_id(raw: Any, key: str) -> dict[str, str]:
    value = raw.get("id") if isinstance(raw, dict) else None
    return {key: value} if isinstance(value, str) else {}


class _Validator:
    def __init__(
        self,
        flow: Flow,
        registry: Registry,
        secrets: Secrets | None,
        reach: Reach | None,
        python_gate: str | None = None,
    ):
        self.flow = flow
        self.registry = registry
        self.secrets = secrets
        self.reach = reach or Reach()
        self.python_gate = python_gate
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        self.node_index = {n.id: i for i, n in enumerate(flow.nodes)}
        self.classes: dict[str, type[Processor]] = {}
        self.configs: dict[str, ProcessorConfig] = {}
        #: One design-time processor per node, shared by the reach check and the schemas.
        self.instances: dict[str, Processor] = {}
        #: Nodes whose processor cannot even be made: reported once, asked nothing more.
        self.broken: set[str] = set()

    def error(
        self,
        path: str,
        code: str,
        message: str,
        node_id: str | None = None,
        edge_id: str | None = None,
    ) -> None:
        self.errors.append(
            Issue(path=path, code=code, message=message, node_id=node_id, edge_id=edge_id)
        )

    def warn(
        self,
        path: str,
        code: str,
        message: str,
        node_id: str | None = None,
        edge_id: str | None = None,
    ) -> None:
        self.warnings.append(
            Issue(
                path=path,
                code=code,
                message=message,
                severity="warning",
                node_id=node_id,
                edge_id=edge_id,
            )
        )

    def run(self) -> Checked:
        self.check_ids()
        self.check_nodes()
        self.check_user_code()
        self.check_delivery()
        graph = self.check_edges()
        self.check_ports_connected(graph)
        acyclic = self.check_cycles(graph)
        schemas = self.propagate_schemas(graph) if acyclic else {}
        report = _report(self.errors, self.warnings, schemas)
        report.ports = node_ports(self.classes, self.configs)
        plan = self.plan(graph, schemas, report.ports) if not self.errors else None
        return Checked(flow=self.flow, report=report, plan=plan)

    def plan(
        self,
        graph: nx.MultiDiGraph[str],
        schemas: dict[str, dict[str, pa.Schema]],
        ports: dict[str, NodePorts],
    ) -> FlowPlan:
        """Only called without errors: every node resolved and decoded, the graph acyclic;
        the ports are the ones the report gives the editor."""
        nodes: dict[str, NodePlan] = {}
        for node_id in nx.lexicographical_topological_sort(graph, key=self.node_index.get):
            cls, config = self.classes[node_id], self.configs[node_id]
            nodes[node_id] = NodePlan(
                node=self.flow.nodes[self.node_index[node_id]],
                cls=cls,
                config=config,
                inputs=tuple(ports[node_id].inputs),
                outputs=tuple(ports[node_id].outputs),
            )
        return FlowPlan(
            flow=self.flow,
            nodes=MappingProxyType(nodes),
            edges=tuple(self.flow.edges),
            schemas=MappingProxyType(schemas),
        )

    def check_ids(self) -> None:
        kinds: tuple[tuple[str, Sequence[Node | Edge]], ...] = (
            ("nodes", self.flow.nodes),
            ("edges", self.flow.edges),
        )
        for kind, items in kinds:
            counts = Counter(item.id for item in items)
            seen: set[str] = set()
            for i, item in enumerate(items):
                if counts[item.id] > 1 and item.id in seen:
                    self.error(
                        f"{kind}[{i}].id",
                        "duplicate_id",
                        f"{kind[:-1]} id {item.id!r} is used {counts[item.id]} times",
                        node_id=item.id if kind == "nodes" else None,
                        edge_id=item.id if kind == "edges" else None,
                    )
                seen.add(item.id)

    def check_nodes(self) -> None:
        for i, node in enumerate(self.flow.nodes):
            cls = self.registry.get(node.type)
            if cls is None:
                self.error(
                    f"nodes[{i}].type",
                    "unknown_type",
                    f"node {node.id!r}: unknown processor type {node.type!r}",
                    node_id=node.id,
                )
                continue
            self.classes[node.id] = cls
            config = self.check_secrets(i, node)
            try:
                self.configs[node.id] = cls.parse_config(config)
            except msgspec.ValidationError as exc:
                issue = msgspec_issue(exc, f"nodes[{i}].config", node_id=node.id)
                issue.message = f"{node.type} in node {node.id!r}: {issue.message}"
                self.errors.append(issue)
                continue
            self.check_reach(i, node, cls, self.configs[node.id])

    def instance(self, node: Node, cls: type[Processor], config: ProcessorConfig) -> Processor:
        """The node's processor for design-time questions, seeing the server's reach."""
        found = self.instances.get(node.id)
        if found is None:
            found = self.instances[node.id] = cls(
                config, Context(node_id=node.id, reach=self.reach)
            )
        return found

    def check_reach(
        self, i: int, node: Node, cls: type[Processor], config: ProcessorConfig
    ) -> None:
        try:
            self.instance(node, cls, config).confine()
        except SchemaError as exc:
            path = f"nodes[{i}].config.{exc.field}" if exc.field else f"nodes[{i}]"
            self.error(
                path, "not_allowed", f"{node.type} in node {node.id!r}: {exc.message}",
                node_id=node.id,
            )  # fmt: skip
        except Exception as exc:  # a plugin's bug must not break validation of the rest
            self.broken.add(node.id)
            self.error(
                f"nodes[{i}]", "schema_error",
                f"{node.type} in node {node.id!r}: {type(exc).__name__}: {exc}",
                node_id=node.id,
            )  # fmt: skip

    def check_user_code(self) -> None:
        if self.python_gate is None:
            return
        for i, node in enumerate(self.flow.nodes):
            if node.type in USER_CODE_TYPES:
                self.error(
                    f"nodes[{i}].type",
                    "python_disabled",
                    f"{node.type} in node {node.id!r}: python nodes cannot run on this server: "
                    f"{self.python_gate}",
                    node_id=node.id,
                )

    def check_delivery(self) -> None:
        if self.flow.settings.delivery != "exactly_once":
            return
        for i, node in enumerate(self.flow.nodes):
            cls, config = self.classes.get(node.id), self.configs.get(node.id)
            if cls is None or config is None or not issubclass(cls, Sink):
                continue
            problem: str | None
            if not cls.exactly_once:
                problem = "cannot deliver exactly once; use settings.delivery at_least_once"
            else:
                problem = cls.exactly_once_problem(config)
            if problem:
                self.error(
                    f"nodes[{i}]",
                    "delivery_unsupported",
                    f"{node.type} in node {node.id!r}: {problem}",
                    node_id=node.id,
                )

    def check_secrets(self, i: int, node: Node) -> dict[str, Any]:
        """Secret fields must hold references; returns the config with references replaced
        by a placeholder, so that it decodes like the real values will."""
        allowed = secret_fields(self.registry, node.type)
        for field in sorted(allowed):
            value = node.config.get(field)
            if isinstance(value, str) and value:
                self.error(
                    f"nodes[{i}].config.{field}",
                    "secret_in_clear",
                    f"node {node.id!r}: {field} must not be stored in the flow; refer to a "
                    f'named secret instead: {{"secret": "NAME"}}',
                    node_id=node.id,
                )
        for path, name in find_refs(node.config):
            if path not in allowed:
                # Any other field could carry the value somewhere it is shown or kept: a
                # sample, an error message, a file name, a query sent to a server.
                fields = ", ".join(sorted(allowed)) or "none"
                self.error(
                    f"nodes[{i}].config.{path}",
                    "secret_not_allowed",
                    f"node {node.id!r}: {path} is not a secret field, so it cannot refer to a "
                    f"secret (the secret fields of {node.type}: {fields})",
                    node_id=node.id,
                )
            elif self.secrets is not None and name not in self.secrets:
                self.error(
                    f"nodes[{i}].config.{path}",
                    "unknown_secret",
                    f"node {node.id!r}: no secret named {name!r}",
                    node_id=node.id,
                )
        return substitute(node.config, lambda _: "********")

    def ports(self, node_id: str, direction: str) -> tuple[str, ...] | None:
        cls, config = self.classes.get(node_id), self.configs.get(node_id)
        if cls is None or config is None:
            return None  # already reported; don't pile port errors on top
        return cls.input_ports(config) if direction == "in" else cls.output_ports(config)

    def check_edges(self) -> nx.MultiDiGraph[str]:
        graph: nx.MultiDiGraph[str] = nx.MultiDiGraph()
        graph.add_nodes_from(self.node_index)
        for i, edge in enumerate(self.flow.edges):
            ok = True
            for end, port_field, direction in (
                ("source", "source_port", "out"),
                ("target", "target_port", "in"),
            ):
                node_id, port = getattr(edge, end), getattr(edge, port_field)
                if node_id not in self.node_index:
                    self.error(
                        f"edges[{i}].{end}",
                        "missing_node",
                        f"edge {edge.id!r}: {end} node {node_id!r} does not exist",
                        edge_id=edge.id,
                    )
                    ok = False
                    continue
                ports = self.ports(node_id, direction)
                if ports is None or port in ports:
                    continue
                if (
                    direction == "in"
                    and isinstance(self.classes.get(node_id), type)
                    and issubclass(self.classes[node_id], Source)
                ):
                    self.error(
                        f"edges[{i}].target",
                        "source_has_input",
                        f"edge {edge.id!r}: node {node_id!r} is a source and takes no input",
                        edge_id=edge.id,
                        node_id=node_id,
                    )
                else:
                    kind = "output" if direction == "out" else "input"
                    self.error(
                        f"edges[{i}].{port_field}",
                        "unknown_port",
                        f"edge {edge.id!r}: node {node_id!r} has no {kind} port {port!r}"
                        f" (its {kind} ports: {', '.join(ports) or 'none'})",
                        edge_id=edge.id,
                    )
                ok = False
            if ok:
                graph.add_edge(
                    edge.source,
                    edge.target,
                    key=edge.id,
                    source_port=edge.source_port,
                    target_port=edge.target_port,
                )
        return graph

    def check_ports_connected(self, graph: nx.MultiDiGraph[str]) -> None:
        for node_id, i in self.node_index.items():
            ins = self.ports(node_id, "in")
            outs = self.ports(node_id, "out")
            if ins is None or outs is None:
                continue
            connected_in = {d["target_port"] for *_, d in graph.in_edges(node_id, data=True)}
            connected_out = {d["source_port"] for *_, d in graph.out_edges(node_id, data=True)}
            for port in ins:
                if port not in connected_in:
                    self.error(
                        f"nodes[{i}]",
                        "input_not_connected",
                        f"node {node_id!r}: input port {port!r} is not connected",
                        node_id=node_id,
                    )
            for port in outs:
                if port not in connected_out:
                    self.warn(
                        f"nodes[{i}]",
                        "output_not_connected",
                        f"node {node_id!r}: output port {port!r} is not connected; "
                        "its records are discarded",
                        node_id=node_id,
                    )

    def check_cycles(self, graph: nx.MultiDiGraph[str]) -> bool:
        cycles = list(nx.simple_cycles(nx.DiGraph(graph)))
        for cycle in cycles:
            # Start the cycle at the node listed first in the document: stable messages.
            start = min(range(len(cycle)), key=lambda k: self.node_index[cycle[k]])
            cycle = cycle[start:] + cycle[:start]
            first = cycle[0]
            self.error(
                f"nodes[{self.node_index[first]}]",
                "cycle",
                f"cycle through nodes {' -> '.join([*cycle, first])}",
                node_id=first,
            )
        return not cycles

    def propagate_schemas(self, graph: nx.MultiDiGraph[str]) -> dict[str, dict[str, pa.Schema]]:
        out: dict[str, dict[str, pa.Schema]] = {}
        for node_id in nx.topological_sort(graph):
            cls, config = self.classes.get(node_id), self.configs.get(node_id)
            if cls is None or config is None or node_id in self.broken:
                continue
            inputs: dict[str, pa.Schema] = {}
            known = True
            for upstream, _, data in graph.in_edges(node_id, data=True):
                schema = out.get(upstream, {}).get(data["source_port"])
                if schema is None:
                    known = False
                    break
                inputs.setdefault(data["target_port"], schema)
            if not known:
                continue
            i = self.node_index[node_id]
            node = self.flow.nodes[i]
            try:
                schemas = self.instance(node, cls, config).output_schema(inputs)
            except SchemaError as exc:
                path = f"nodes[{i}].config.{exc.field}" if exc.field else f"nodes[{i}]"
                self.error(
                    path,
                    "schema_error",
                    f"{node.type} in node {node_id!r}: {exc.message}",
                    node_id=node_id,
                )
                continue
            except Exception as exc:  # a plugin's bug must not break validation of the rest
                self.error(
                    f"nodes[{i}]",
                    "schema_error",
                    f"{node.type} in node {node_id!r}: {type(exc).__name__}: {exc}",
                    node_id=node_id,
                )
                continue
            if schemas is not None:
                out[node_id] = dict(schemas)
        return out


def node_ports(
    classes: dict[str, type[Processor]], configs: dict[str, ProcessorConfig]
) -> dict[str, NodePorts]:
    """The ports of each node whose config decodes, as its processor declares them for that
    config (the editor draws these instead of guessing)."""
    return {
        node_id: NodePorts(
            inputs=list(classes[node_id].input_ports(config)),
            outputs=list(classes[node_id].output_ports(config)),
        )
        for node_id, config in configs.items()
    }


def _report(
    errors: list[Issue],
    warnings: list[Issue],
    schemas: dict[str, dict[str, pa.Schema]] | None = None,
) -> ValidationReport:
    return ValidationReport(
        valid=not errors,
        errors=errors,
        warnings=warnings,
        schemas={
            node: {
                port: [Column(f.name, str(f.type)) for f in schema]
                for port, schema in ports.items()
            }
            for node, ports in (schemas or {}).items()
        },
    )
