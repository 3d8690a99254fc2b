/** Flow document <-> React Flow nodes/edges. The document is the source of truth; these are views of it. */

import type { Edge, Node } from "@xyflow/react";
import type { Flow, FlowEdge, FlowNode } from "../api/types";
import { handleId, parseHandleId } from "./ports";

/** A canvas node's `data` IS the document node (plain JSON, no callbacks). */
export type ProcessorRfNode = Node<FlowNode, "processor">;
export type FlowRfEdge = Edge<FlowEdge, "flow">;

export interface Dimensions {
  width: number;
  height: number;
}

export interface ViewState {
  selectedNodes: ReadonlySet<string>;
  selectedEdges: ReadonlySet<string>;
  measured: ReadonlyMap<string, Dimensions>;
}

export const emptyView = (): ViewState => ({ selectedNodes: new Set(), selectedEdges: new Set(), measured: new Map() });

/**
 * Map the document's nodes to React Flow nodes. `cache` holds the previous result by id:
 * an unchanged document node (same object), selection and size give back the same
 * React Flow node object, so React Flow re-renders only the nodes that changed.
 */
export function toRfNodes(flow: Flow, view: ViewState, cache?: Map<string, ProcessorRfNode>): ProcessorRfNode[] {
  const out: ProcessorRfNode[] = [];
  const seen = new Set<string>();
  for (const n of flow.nodes) {
    const selected = view.selectedNodes.has(n.id);
    const measured = view.measured.get(n.id);
    const prev = cache?.get(n.id);
    seen.add(n.id);
    if (prev && prev.data === n && prev.selected === selected && prev.measured === measured) {
      out.push(prev);
      continue;
    }
    const rf: ProcessorRfNode = { id: n.id, type: "processor", position: n.position, data: n, selected };
    if (measured) rf.measured = measured;
    cache?.set(n.id, rf);
    out.push(rf);
  }
  if (cache) for (const id of [...cache.keys()]) if (!seen.has(id)) cache.delete(id);
  return out;
}

export function toRfEdges(flow: Flow, view: ViewState, cache?: Map<string, FlowRfEdge>): FlowRfEdge[] {
  const out: FlowRfEdge[] = [];
  const seen = new Set<string>();
  for (const e of flow.edges) {
    const selected = view.selectedEdges.has(e.id);
    const prev = cache?.get(e.id);
    seen.add(e.id);
    if (prev && prev.data === e && prev.selected === selected) {
      out.push(prev);
      continue;
    }
    const rf: FlowRfEdge = {
      id: e.id,
      type: "flow",
      source: e.source,
      target: e.target,
      sourceHandle: handleId("out", e.source_port),
      targetHandle: handleId("in", e.target_port),
      data: e,
      selected,
    };
    cache?.set(e.id, rf);
    out.push(rf);
  }
  if (cache) for (const id of [...cache.keys()]) if (!seen.has(id)) cache.delete(id);
  return out;
}

/**
 * The inverse mapping: canvas nodes/edges back to a flow document. Every flow-level field
 * of `base` (settings, and any field the editor does not know) is kept as it is.
 */
export function fromRf(base: Omit<Flow, "nodes" | "edges">, nodes: readonly ProcessorRfNode[], edges: readonly FlowRfEdge[]): Flow {
  return {
    ...base,
    nodes: nodes.map((n) => ({ ...n.data, id: n.id, position: { ...n.data.position, x: n.position.x, y: n.position.y } })),
    edges: edges.map((e) => ({
      ...(e.data as FlowEdge),
      id: e.id,
      source: e.source,
      target: e.target,
      source_port: parseHandleId(e.sourceHandle)?.port ?? e.data?.source_port ?? "out",
      target_port: parseHandleId(e.targetHandle)?.port ?? e.data?.target_port ?? "in",
    })),
  };
}
