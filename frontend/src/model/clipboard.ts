/** Copy/paste of canvas selections: pasted nodes and edges get fresh ids, edges follow their nodes. */

import type { Flow, FlowEdge, FlowNode } from "../api/types";
import { newEdgeId, uniqueNodeId } from "./ids";

export interface ClipboardContent {
  kind: "dataflow/selection";
  nodes: FlowNode[];
  /** Only edges whose both ends were copied. */
  edges: FlowEdge[];
}

export function copySelection(flow: Flow, nodeIds: Iterable<string>): ClipboardContent | null {
  const ids = new Set(nodeIds);
  const nodes = flow.nodes.filter((n) => ids.has(n.id));
  if (nodes.length === 0) return null;
  const edges = flow.edges.filter((e) => ids.has(e.source) && ids.has(e.target));
  return { kind: "dataflow/selection", nodes: structuredClone(nodes), edges: structuredClone(edges) };
}

export function isClipboardContent(x: unknown): x is ClipboardContent {
  return typeof x === "object" && x !== null && (x as ClipboardContent).kind === "dataflow/selection" && Array.isArray((x as ClipboardContent).nodes);
}

export interface PasteResult {
  flow: Flow;
  nodeIds: string[];
  edgeIds: string[];
  /** old id -> new id */
  idMap: Map<string, string>;
}

/** Paste with new ids (`filter-1` -> `filter-2`), shifted by `offset` so the copy is visible. */
export function pasteClipboard(flow: Flow, clip: ClipboardContent, offset = { x: 40, y: 40 }, rand: () => number = Math.random): PasteResult {
  const takenNodes = new Set(flow.nodes.map((n) => n.id));
  const takenEdges = new Set(flow.edges.map((e) => e.id));
  const idMap = new Map<string, string>();
  const nodes: FlowNode[] = clip.nodes.map((n) => {
    const stem = n.id.replace(/-\d+$/, "") || n.type;
    const id = uniqueNodeId(stem, takenNodes);
    takenNodes.add(id);
    idMap.set(n.id, id);
    return { ...structuredClone(n), id, position: { x: n.position.x + offset.x, y: n.position.y + offset.y } };
  });
  const edges: FlowEdge[] = [];
  for (const e of clip.edges) {
    const source = idMap.get(e.source);
    const target = idMap.get(e.target);
    if (!source || !target) continue;
    const id = newEdgeId(takenEdges, rand);
    takenEdges.add(id);
    edges.push({ ...structuredClone(e), id, source, target });
  }
  return {
    flow: { ...flow, nodes: [...flow.nodes, ...nodes], edges: [...flow.edges, ...edges] },
    nodeIds: nodes.map((n) => n.id),
    edgeIds: edges.map((e) => e.id),
    idMap,
  };
}
