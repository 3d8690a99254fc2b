/** Domain edits of a flow document: pure functions Flow -> Flow (structural sharing, never mutating). */

import { DEFAULT_EDGE_SETTINGS, DEFAULT_FLOW_SETTINGS, FORMAT_VERSION } from "../api/types";
import type { EdgeSettings, Flow, FlowEdge, FlowNode, JsonObject, Position, ProcessorInfo } from "../api/types";
import { newEdgeId, uniqueNodeId } from "./ids";

export type DomainEdit =
  | { kind: "move"; id: string; position: Position }
  | { kind: "remove-node"; id: string }
  | { kind: "remove-edge"; id: string };

export function emptyFlow(name: string): Flow {
  return { id: "", name, description: "", format_version: FORMAT_VERSION, nodes: [], edges: [], settings: { ...DEFAULT_FLOW_SETTINGS } };
}

/**
 * Fill in what an imported or older document may lack, so the editor can rely on it.
 *
 * Every level starts from a spread of what came in: a field the editor does not know
 * (a newer format's, or one added to settings, a node or an edge) is kept as it is,
 * so saving from the editor never drops it.
 */
export function normalizeFlow(flow: Flow): Flow {
  return {
    ...flow,
    id: flow.id ?? "",
    name: flow.name ?? "",
    description: flow.description ?? "",
    format_version: flow.format_version ?? FORMAT_VERSION,
    nodes: (flow.nodes ?? []).map((n) => ({
      ...n,
      name: n.name ?? "",
      config: n.config ?? {},
      position: { ...n.position, x: n.position?.x ?? 0, y: n.position?.y ?? 0 },
    })),
    edges: (flow.edges ?? []).map((e) => ({
      ...e,
      source_port: e.source_port ?? "out",
      target_port: e.target_port ?? "in",
      settings: { ...DEFAULT_EDGE_SETTINGS, ...(e.settings ?? {}) },
    })),
    settings: { ...DEFAULT_FLOW_SETTINGS, ...(flow.settings ?? {}) },
  };
}

export function nodeIds(flow: Flow): Set<string> {
  return new Set(flow.nodes.map((n) => n.id));
}

export function edgeIds(flow: Flow): Set<string> {
  return new Set(flow.edges.map((e) => e.id));
}

function uniqueName(base: string, flow: Flow): string {
  const names = new Set(flow.nodes.map((n) => n.name));
  if (!names.has(base)) return base;
  for (let i = 2; ; i++) if (!names.has(`${base} ${i}`)) return `${base} ${i}`;
}

/** A new node of a catalog type at a canvas position; its config starts empty (defaults stay implicit). */
export function makeNode(flow: Flow, info: Pick<ProcessorInfo, "type" | "title">, position: Position): FlowNode {
  return {
    id: uniqueNodeId(info.type, nodeIds(flow)),
    type: info.type,
    name: uniqueName(info.title || info.type, flow),
    config: {},
    position: { x: Math.round(position.x), y: Math.round(position.y) },
  };
}

export function addNode(flow: Flow, node: FlowNode): Flow {
  return { ...flow, nodes: [...flow.nodes, node] };
}

export function updateNode(flow: Flow, id: string, patch: Partial<Pick<FlowNode, "name" | "config" | "position">>): Flow {
  let changed = false;
  const nodes = flow.nodes.map((n) => {
    if (n.id !== id) return n;
    changed = true;
    return { ...n, ...patch };
  });
  return changed ? { ...flow, nodes } : flow;
}

export function setNodeConfig(flow: Flow, id: string, config: JsonObject): Flow {
  return updateNode(flow, id, { config });
}

export function moveNodes(flow: Flow, positions: ReadonlyMap<string, Position>): Flow {
  if (positions.size === 0) return flow;
  let changed = false;
  const nodes = flow.nodes.map((n) => {
    const p = positions.get(n.id);
    if (!p || (p.x === n.position.x && p.y === n.position.y)) return n;
    changed = true;
    return { ...n, position: { ...n.position, x: p.x, y: p.y } };
  });
  return changed ? { ...flow, nodes } : flow;
}

export function addEdge(
  flow: Flow,
  conn: Pick<FlowEdge, "source" | "source_port" | "target" | "target_port">,
  settings: EdgeSettings = DEFAULT_EDGE_SETTINGS,
): { flow: Flow; edge: FlowEdge } {
  const edge: FlowEdge = { id: newEdgeId(edgeIds(flow)), ...conn, settings: { ...settings } };
  return { flow: { ...flow, edges: [...flow.edges, edge] }, edge };
}

export function updateEdgeSettings(flow: Flow, id: string, settings: EdgeSettings): Flow {
  return { ...flow, edges: flow.edges.map((e) => (e.id === id ? { ...e, settings } : e)) };
}

/** Remove nodes (with every edge touching them) and edges. */
export function removeElements(flow: Flow, nodeIdsToRemove: Iterable<string>, edgeIdsToRemove: Iterable<string> = []): Flow {
  const nodeSet = new Set(nodeIdsToRemove);
  const edgeSet = new Set(edgeIdsToRemove);
  if (nodeSet.size === 0 && edgeSet.size === 0) return flow;
  const nodes = flow.nodes.filter((n) => !nodeSet.has(n.id));
  const edges = flow.edges.filter((e) => !edgeSet.has(e.id) && !nodeSet.has(e.source) && !nodeSet.has(e.target));
  if (nodes.length === flow.nodes.length && edges.length === flow.edges.length) return flow;
  return { ...flow, nodes, edges };
}

/** Apply a batch of edits coming from the canvas. */
export function applyEdits(flow: Flow, edits: readonly DomainEdit[]): Flow {
  if (edits.length === 0) return flow;
  const moves = new Map<string, Position>();
  const removeNodes: string[] = [];
  const removeEdges: string[] = [];
  for (const e of edits) {
    if (e.kind === "move") moves.set(e.id, e.position);
    else if (e.kind === "remove-node") removeNodes.push(e.id);
    else removeEdges.push(e.id);
  }
  return removeElements(moveNodes(flow, moves), removeNodes, removeEdges);
}

/** Keep unchanged parts of `prev` when `next` is deep-equal there, so memoised views do not re-render. */
export function reconcile<T>(prev: T, next: T): T {
  if (Object.is(prev, next)) return prev;
  if (typeof prev !== "object" || typeof next !== "object" || prev === null || next === null) return next;
  if (Array.isArray(prev) !== Array.isArray(next)) return next;
  if (Array.isArray(prev) && Array.isArray(next)) {
    const out = next.map((v, i) => reconcile(prev[i], v));
    return (out.length === prev.length && out.every((v, i) => v === prev[i]) ? prev : out) as T;
  }
  const p = prev as Record<string, unknown>;
  const n = next as Record<string, unknown>;
  // Arrays of objects with ids (nodes, edges) are matched by id, not by index.
  const out: Record<string, unknown> = {};
  let same = Object.keys(p).length === Object.keys(n).length;
  for (const k of Object.keys(n)) {
    const pv = p[k];
    const nv = n[k];
    let v: unknown;
    if (Array.isArray(pv) && Array.isArray(nv) && nv.every((x) => x && typeof x === "object" && "id" in x)) {
      const byId = new Map(pv.filter((x) => x && typeof x === "object" && "id" in x).map((x) => [(x as { id: unknown }).id, x]));
      const arr = nv.map((x) => reconcile(byId.get((x as { id: unknown }).id), x));
      v = arr.length === pv.length && arr.every((x, i) => x === pv[i]) ? pv : arr;
    } else {
      v = reconcile(pv, nv);
    }
    out[k] = v;
    if (v !== pv || !(k in p)) same = false;
  }
  return (same ? prev : out) as T;
}
