/**
 * Which ports a node shows: the ones the server declared for the node's config in the last
 * validation report (`ports`), else (before the first report, or while the config does not
 * decode) the catalog's. Nothing here recomputes a processor's ports.
 */

import type { DeclaredPorts, FlowEdge, ProcessorInfo } from "../api/types";

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

/** Looks up the ports the last validation report declared for a node id. */
export type DeclaredLookup = (nodeId: string) => DeclaredPorts | undefined;

/**
 * The ports drawn on a node. Ports referenced by existing edges but not offered stay visible,
 * so an edge never dangles; they are flagged `missing` when the server said so (its report
 * declares the node's ports) or the processor type is unknown. Before the server has spoken
 * they are drawn plainly: the catalog lists a processor's usual ports, not every config's.
 */
export function derivePorts(info: ProcessorInfo | undefined, declared: DeclaredPorts | undefined, nodeId: string, edges: readonly FlowEdge[] | UsedPorts = []): NodePorts {
  const used = Array.isArray(edges) ? usedPorts(edges as readonly FlowEdge[], nodeId) : (edges as UsedPorts);
  const offered = declared ?? { inputs: info?.inputs ?? [], outputs: info?.outputs ?? [] };
  const isFailure = (name: string) => !!info && name === info.failure_port && !info.outputs.includes(name);
  const port = (name: string, kind: PortKind, missing = false): PortSpec => ({
    name,
    kind,
    ...(kind === "out" && isFailure(name) ? { failure: true } : {}),
    ...(missing ? { missing: true } : {}),
  });
  const inputs = offered.inputs.map((name) => port(name, "in"));
  const outputs = offered.outputs.map((name) => port(name, "out"));
  const known = declared !== undefined || info === undefined;
  for (const name of used.inputs) if (!inputs.some((p) => p.name === name)) inputs.push(port(name, "in", known));
  for (const name of used.outputs) if (!outputs.some((p) => p.name === name)) outputs.push(port(name, "out", known));
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
