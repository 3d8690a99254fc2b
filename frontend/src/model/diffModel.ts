/** The diff between two versions, shaped for display: sections of added/removed/changed lines. */

import type { FlowDiff, FlowEdge, FlowNode, JsonValue } from "../api/types";

export type DiffKind = "added" | "removed" | "changed";

export interface DiffDetail {
  label: string;
  old?: string;
  new?: string;
}

export interface DiffItem {
  kind: DiffKind;
  id: string;
  label: string;
  details: DiffDetail[];
}

export interface DiffSection {
  title: string;
  items: DiffItem[];
}

export interface DiffModel {
  sections: DiffSection[];
  summary: string;
  empty: boolean;
}

/** Short JSON text for a value; `undefined` means "not set". */
export function formatValue(v: JsonValue | undefined, max = 120): string {
  if (v === undefined) return "(not set)";
  const s = typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function nodeLabel(n: Pick<FlowNode, "id" | "name" | "type">): string {
  return n.name && n.name !== n.id ? `${n.name} (${n.id}, ${n.type})` : `${n.id} (${n.type})`;
}

function edgeLabel(e: Pick<FlowEdge, "source" | "source_port" | "target" | "target_port">): string {
  return `${e.source}.${e.source_port} → ${e.target}.${e.target_port}`;
}

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;

export function buildDiffModel(diff: FlowDiff): DiffModel {
  const nodes: DiffItem[] = [];
  for (const n of diff.nodes_added ?? []) nodes.push({ kind: "added", id: n.id, label: nodeLabel(n), details: [] });
  for (const n of diff.nodes_removed ?? []) nodes.push({ kind: "removed", id: n.id, label: nodeLabel(n), details: [] });
  for (const c of diff.nodes_changed ?? []) {
    const details: DiffDetail[] = [];
    if (c.name_changed) details.push({ label: "name changed" });
    if (c.type_changed) details.push({ label: "type changed" });
    if (c.moved) details.push({ label: "moved" });
    const changes = c.config_changes ?? {};
    const keys = new Set([...(c.config_keys_changed ?? []), ...Object.keys(changes)]);
    for (const k of [...keys].sort()) {
      const ch = changes[k];
      if (ch) details.push({ label: `config.${k}`, old: formatValue(ch.old), new: formatValue(ch.new) });
      else details.push({ label: `config.${k}` });
    }
    nodes.push({ kind: "changed", id: c.id, label: c.id, details });
  }
  const edges: DiffItem[] = [];
  for (const e of diff.edges_added ?? []) edges.push({ kind: "added", id: e.id, label: edgeLabel(e), details: [] });
  for (const e of diff.edges_removed ?? []) edges.push({ kind: "removed", id: e.id, label: edgeLabel(e), details: [] });
  for (const c of diff.edges_changed ?? []) {
    const details: DiffDetail[] = [];
    for (const [k, v] of Object.entries(c)) {
      if (k === "id" || v === false || v === null || v === undefined) continue;
      if (v && typeof v === "object" && !Array.isArray(v) && ("old" in v || "new" in v)) {
        const ch = v as { old?: JsonValue; new?: JsonValue };
        details.push({ label: k, old: formatValue(ch.old), new: formatValue(ch.new) });
      } else if (v && typeof v === "object" && !Array.isArray(v)) {
        for (const [sk, sv] of Object.entries(v as Record<string, unknown>)) {
          const ch = sv as { old?: JsonValue; new?: JsonValue } | null;
          if (ch && typeof ch === "object" && ("old" in ch || "new" in ch)) details.push({ label: `${k}.${sk}`, old: formatValue(ch.old), new: formatValue(ch.new) });
          else details.push({ label: `${k}.${sk}` });
        }
      } else if (v === true) details.push({ label: k.replace(/_/g, " ") });
      else details.push({ label: k, new: formatValue(v as JsonValue) });
    }
    edges.push({ kind: "changed", id: c.id, label: c.id, details });
  }
  const flowItems: DiffItem[] = [];
  if (diff.name_changed) flowItems.push({ kind: "changed", id: "name", label: "Flow name changed", details: [] });
  if (diff.description_changed) flowItems.push({ kind: "changed", id: "description", label: "Flow description changed", details: [] });
  if (diff.settings_changed) flowItems.push({ kind: "changed", id: "settings", label: "Flow settings changed", details: [] });

  const sections: DiffSection[] = [];
  if (flowItems.length) sections.push({ title: "Flow", items: flowItems });
  if (nodes.length) sections.push({ title: "Nodes", items: nodes });
  if (edges.length) sections.push({ title: "Connections", items: edges });

  const count = (items: DiffItem[], k: DiffKind) => items.filter((i) => i.kind === k).length;
  const parts: string[] = [];
  for (const [items, w] of [[nodes, "node"], [edges, "connection"]] as const) {
    const a = count(items, "added");
    const r = count(items, "removed");
    const c = count(items, "changed");
    if (a) parts.push(`${plural(a, w)} added`);
    if (r) parts.push(`${plural(r, w)} removed`);
    if (c) parts.push(`${plural(c, w)} changed`);
  }
  if (flowItems.length) parts.unshift(flowItems.map((i) => i.label.toLowerCase()).join(", "));
  const empty = sections.length === 0;
  return { sections, summary: empty ? "No differences" : parts.join(", "), empty };
}
