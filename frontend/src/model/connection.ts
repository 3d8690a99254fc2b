/** Rules for drawing a connection, with a reason a person can read when one is refused. */

import type { Flow, FlowEdge, ProcessorInfo } from "../api/types";
import { derivePorts, parseHandleId, type DeclaredLookup } from "./ports";

export interface ConnectionAttempt {
  /** Node and handle where the drag started. */
  fromNode: string | null;
  fromHandle: string | null;
  /** Node and handle where it was dropped; handle null when dropped on a node's body. */
  toNode: string | null;
  toHandle: string | null;
}

export type NewEdge = Pick<FlowEdge, "source" | "source_port" | "target" | "target_port">;

export type ConnectionCheck = { ok: true; edge: NewEdge } | { ok: false; reason: string };

export type Catalog = ReadonlyMap<string, ProcessorInfo>;

function label(flow: Flow, id: string): string {
  const n = flow.nodes.find((x) => x.id === id);
  return n ? `"${n.name || n.id}"` : `"${id}"`;
}

/**
 * Decide whether a drag from one handle to another (either direction: users drag
 * output -> input or input -> output) makes a valid edge, and which.
 */
export function checkConnection(flow: Flow, catalog: Catalog, a: ConnectionAttempt, declared: DeclaredLookup = () => undefined): ConnectionCheck {
  if (!a.fromNode || !a.toNode) return { ok: false, reason: "Drop the connection on an input port of another node." };
  const fromNode = flow.nodes.find((n) => n.id === a.fromNode);
  const toNode = flow.nodes.find((n) => n.id === a.toNode);
  if (!fromNode || !toNode) return { ok: false, reason: "That node no longer exists." };
  if (fromNode.id === toNode.id) return { ok: false, reason: `A node cannot be connected to itself (${label(flow, fromNode.id)}).` };

  const from = parseHandleId(a.fromHandle);
  if (!from) return { ok: false, reason: "Start the connection on a port." };
  let to = parseHandleId(a.toHandle);

  const toInfo = catalog.get(toNode.type);
  const fromInfo = catalog.get(fromNode.type);
  const toPorts = derivePorts(toInfo, declared(toNode.id), toNode.id, flow.edges);
  const fromPorts = derivePorts(fromInfo, declared(fromNode.id), fromNode.id, flow.edges);

  if (!to) {
    // Dropped on the node body: pick the matching port if there is exactly one.
    const candidates = from.kind === "out" ? toPorts.inputs : toPorts.outputs;
    if (from.kind === "out" && toPorts.inputs.length === 0)
      return { ok: false, reason: `${label(flow, toNode.id)} is a ${toInfo?.category ?? "node"} with no inputs: nothing can connect into it.` };
    if (candidates.length !== 1) return { ok: false, reason: `Drop on one of the ports of ${label(flow, toNode.id)}.` };
    to = { kind: from.kind === "out" ? "in" : "out", port: (candidates[0] as { name: string }).name };
  }

  if (from.kind === to.kind) {
    if (from.kind === "in")
      return { ok: false, reason: "Both ends are inputs: connect an output port (right side) to an input port (left side)." };
    if (toPorts.inputs.length === 0) return { ok: false, reason: `${label(flow, toNode.id)} is a source and has no inputs.` };
    return { ok: false, reason: "Both ends are outputs: connect an output port (right side) to an input port (left side)." };
  }

  const edge: NewEdge =
    from.kind === "out"
      ? { source: fromNode.id, source_port: from.port, target: toNode.id, target_port: to.port }
      : { source: toNode.id, source_port: to.port, target: fromNode.id, target_port: from.port };

  const srcNode = edge.source === fromNode.id ? fromNode : toNode;
  const tgtNode = edge.target === fromNode.id ? fromNode : toNode;
  const srcPorts = edge.source === fromNode.id ? fromPorts : toPorts;
  const tgtPorts = edge.target === fromNode.id ? fromPorts : toPorts;
  const tgtInfo = catalog.get(tgtNode.type);
  if (tgtInfo && tgtInfo.inputs.length === 0) return { ok: false, reason: `${label(flow, tgtNode.id)} is a source and has no inputs.` };
  if (!srcPorts.outputs.some((p) => p.name === edge.source_port && !p.missing))
    return { ok: false, reason: `${label(flow, srcNode.id)} has no output port "${edge.source_port}".` };
  if (!tgtPorts.inputs.some((p) => p.name === edge.target_port && !p.missing))
    return { ok: false, reason: `${label(flow, tgtNode.id)} has no input port "${edge.target_port}".` };
  if (
    flow.edges.some(
      (e) => e.source === edge.source && e.source_port === edge.source_port && e.target === edge.target && e.target_port === edge.target_port,
    )
  )
    return { ok: false, reason: `${label(flow, edge.source)}.${edge.source_port} is already connected to ${label(flow, edge.target)}.${edge.target_port}.` };
  return { ok: true, edge };
}
