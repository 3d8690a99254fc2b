/** Which ports a node shows: catalog ports, plus `failure` on error routing, plus route rules. */

import type { FlowEdge, FlowNode, JsonObject, ProcessorInfo } from "../api/types";

export type PortKind = "in" | "out";

export interface PortSpec {
  name: string;
  kind: PortKind;
  /** The failure port added by `on_error: route`. */
  failure?: boolean;
  /** Referenced by an edge but not offered by the processor any more (shown in red). */
  missing?: boolean;
}

export interface NodePorts {
  inputs: PortSpec[];
  outputs: PortSpec[];
}

export const ROUTE_TYPE = "route";
export const ROUTE_UNMATCHED = "unmatched";

/** Output port names of a processor given a node config (without edge-referenced extras). */
export function outputPortNames(info: ProcessorInfo | undefined, config: JsonObject): string[] {
  let outs: string[];
  if (info?.type === ROUTE_TYPE) {
    outs = [];
    const rules = config["rules"];
    if (Array.isArray(rules)) {
      for (const rule of rules) {
        if (rule && typeof rule === "object" && !Array.isArray(rule)) {
          const port = rule["port"];
          if (typeof port === "string" && port.trim() && !outs.includes(port.trim())) outs.push(port.trim());
        }
      }
    }
    if (!outs.includes(ROUTE_UNMATCHED)) outs.push(ROUTE_UNMATCHED);
  } else {
    outs = info ? [...info.outputs] : [];
  }
  const failure = info?.failure_port || "failure";
  if (config["on_error"] === "route") {
    if (!outs.includes(failure)) outs.push(failure);
  }
  return outs;
}

export function inputPortNames(info: ProcessorInfo | undefined): string[] {
  return info ? [...info.inputs] : [];
}

/** Ports used by edges touching a node (kept visible even if the processor no longer offers them). */
export interface UsedPorts {
  inputs: readonly string[];
  outputs: readonly string[];
}

export function usedPorts(edges: readonly FlowEdge[], nodeId: string): UsedPorts {
  const inputs: string[] = [];
  const outputs: string[] = [];
  for (const e of edges) {
    if (e.target === nodeId && !inputs.includes(e.target_port)) inputs.push(e.target_port);
    if (e.source === nodeId && !outputs.includes(e.source_port)) outputs.push(e.source_port);
  }
  return { inputs, outputs };
}

/**
 * The ports drawn on a node. Ports referenced by existing edges but no longer offered
 * (e.g. `failure` after on_error changed back to "fail") stay visible, flagged `missing`,
 * so the edge never dangles and validation can point at it.
 */
export function derivePorts(info: ProcessorInfo | undefined, node: Pick<FlowNode, "id" | "config">, edges: readonly FlowEdge[] | UsedPorts = []): NodePorts {
  const used = Array.isArray(edges) ? usedPorts(edges as readonly FlowEdge[], node.id) : (edges as UsedPorts);
  const failure = info?.failure_port || "failure";
  const inputs: PortSpec[] = inputPortNames(info).map((name) => ({ name, kind: "in" }));
  const outputs: PortSpec[] = outputPortNames(info, node.config).map((name) =>
    name === failure && !info?.outputs.includes(name) ? { name, kind: "out", failure: true } : { name, kind: "out" },
  );
  for (const name of used.inputs) if (!inputs.some((p) => p.name === name)) inputs.push({ name, kind: "in", missing: true });
  for (const name of used.outputs) if (!outputs.some((p) => p.name === name)) outputs.push({ name, kind: "out", missing: true });
  return { inputs, outputs };
}

/** React Flow handle ids: `in:<port>` / `out:<port>` (an input and an output may share a name). */
export function handleId(kind: PortKind, port: string): string {
  return `${kind}:${port}`;
}

export function parseHandleId(handle: string | null | undefined): { kind: PortKind; port: string } | null {
  if (!handle) return null;
  const i = handle.indexOf(":");
  if (i < 0) return null;
  const kind = handle.slice(0, i);
  if (kind !== "in" && kind !== "out") return null;
  return { kind, port: handle.slice(i + 1) };
}

/** A stable string key of the ports, to know when React Flow must re-measure handles. */
export function portsKey(ports: NodePorts): string {
  return `${ports.inputs.map((p) => p.name + (p.missing ? "!" : "")).join(",")}|${ports.outputs.map((p) => p.name + (p.missing ? "!" : "")).join(",")}`;
}
