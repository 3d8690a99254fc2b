/** Auto-layout with ELK's layered algorithm, left to right, ports in their drawn order. */

import type { ELK, ElkExtendedEdge, ElkNode, ElkPort } from "elkjs/lib/elk-api";
import type { Flow, Position } from "../api/types";
import type { Dimensions } from "./graph";
import type { NodePorts } from "./ports";

export const DEFAULT_NODE_SIZE: Dimensions = { width: 220, height: 72 };

// ELK is large (~1.5 MB): loaded on first use, not with the editor.
let elk: ELK | null = null;

/** Build the ELK graph (exported for tests). */
export function toElkGraph(flow: Flow, sizes: ReadonlyMap<string, Dimensions>, ports: (nodeId: string) => NodePorts): ElkNode {
  const nodeSet = new Set(flow.nodes.map((n) => n.id));
  const children: ElkNode[] = flow.nodes.map((n) => {
    const size = sizes.get(n.id) ?? DEFAULT_NODE_SIZE;
    const p = ports(n.id);
    // ELK orders ports clockwise: EAST top to bottom, WEST bottom to top, as drawn on the node.
    const elkPorts: ElkPort[] = [
      ...p.outputs.map((port, i) => ({ id: `${n.id}::out::${port.name}`, layoutOptions: { "elk.port.side": "EAST", "elk.port.index": String(i) } })),
      ...p.inputs.map((port, i) => ({
        id: `${n.id}::in::${port.name}`,
        layoutOptions: { "elk.port.side": "WEST", "elk.port.index": String(p.outputs.length + p.inputs.length - 1 - i) },
      })),
    ];
    return { id: n.id, width: size.width, height: size.height, ports: elkPorts, layoutOptions: { "elk.portConstraints": "FIXED_ORDER" } };
  });
  const edges: ElkExtendedEdge[] = flow.edges
    .filter((e) => nodeSet.has(e.source) && nodeSet.has(e.target))
    .map((e) => ({ id: e.id, sources: [`${e.source}::out::${e.source_port}`], targets: [`${e.target}::in::${e.target_port}`] }));
  return {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.layered.spacing.nodeNodeBetweenLayers": "130",
      "elk.spacing.nodeNode": "36",
      "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
      "elk.layered.crossingMinimization.strategy": "LAYER_SWEEP",
      "elk.separateConnectedComponents": "true",
      "elk.spacing.componentComponent": "60",
    },
    children,
    edges,
  };
}

/** New positions for every node (top-left corners, rounded). */
export async function autoLayout(flow: Flow, sizes: ReadonlyMap<string, Dimensions>, ports: (nodeId: string) => NodePorts): Promise<Map<string, Position>> {
  if (!elk) {
    const { default: ElkCtor } = await import("elkjs/lib/elk.bundled.js");
    elk = new ElkCtor();
  }
  const result = await elk.layout(toElkGraph(flow, sizes, ports));
  const out = new Map<string, Position>();
  for (const c of result.children ?? []) out.set(c.id, { x: Math.round(c.x ?? 0), y: Math.round(c.y ?? 0) });
  return out;
}
