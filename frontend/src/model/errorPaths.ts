/** Validation issues -> where to show them: which node or edge, and which form field. */

import type { Flow, Issue } from "../api/types";

export type PathPart = string | number;

/**
 * Parse the paths the server may send: `nodes[2].config.condition`, `$.nodes[2].config`,
 * JSON pointers `/nodes/2/config/condition`, or dotted `nodes.2.config.condition`.
 */
export function parseIssuePath(path: string): PathPart[] {
  let p = (path ?? "").trim();
  if (!p || p === "$") return [];
  if (p.startsWith("/")) {
    return p
      .slice(1)
      .split("/")
      .filter((s) => s !== "")
      .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  }
  if (p.startsWith("$")) p = p.slice(1);
  const out: PathPart[] = [];
  // [2] index, ["key"] or [key] (the server names nodes by id in conflict paths: nodes[gen].name), .name
  const re = /\[(\d+)\]|\[["']([^"']*)["']\]|\[([^\]]+)\]|\.?([^.[\]]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(p)) !== null) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else if (m[2] !== undefined) out.push(m[2]);
    else if (m[3] !== undefined) out.push(m[3]);
    else if (m[4] !== undefined) out.push(/^\d+$/.test(m[4]) ? Number(m[4]) : m[4]);
  }
  return out;
}

export interface LocatedIssue extends Issue {
  /** Resolved target (from node_id/edge_id or from `nodes[i]`/`edges[i]` in the path). */
  nodeId?: string;
  edgeId?: string;
  /**
   * The form field inside the node or edge, as a dotted path: for a node, config fields
   * are relative to the config (`condition`, `columns.0.name`) and `name` stays `name`;
   * for an edge, `settings.max_batches`.
   */
  field?: string;
  /** Whether `field` is a config field (node) — the inspector's generated form. */
  inConfig: boolean;
}

export function locateIssue(issue: Issue, flow: Flow | null): LocatedIssue {
  const parts = parseIssuePath(issue.path);
  const out: LocatedIssue = { ...issue, inConfig: false };
  let rest = parts;
  if (parts[0] === "nodes" && typeof parts[1] === "number") {
    out.nodeId = issue.node_id ?? flow?.nodes[parts[1]]?.id ?? undefined;
    rest = parts.slice(2);
  } else if (parts[0] === "nodes" && typeof parts[1] === "string" && flow?.nodes.some((n) => n.id === parts[1])) {
    out.nodeId = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === "edges" && typeof parts[1] === "number") {
    out.edgeId = issue.edge_id ?? flow?.edges[parts[1]]?.id ?? undefined;
    rest = parts.slice(2);
  } else if (parts[0] === "edges" && typeof parts[1] === "string" && flow?.edges.some((e) => e.id === parts[1])) {
    out.edgeId = parts[1];
    rest = parts.slice(2);
  }
  if (issue.node_id) out.nodeId = issue.node_id;
  if (issue.edge_id) out.edgeId = issue.edge_id;
  if (out.nodeId !== undefined) {
    if (rest[0] === "config") {
      out.inConfig = true;
      if (rest.length > 1) out.field = rest.slice(1).join(".");
    } else if (rest.length > 0) {
      out.field = rest.join(".");
    }
  } else if (out.edgeId !== undefined) {
    if (rest.length > 0) out.field = rest.join(".");
  } else if (rest.length > 0 && parts.length > 0) {
    out.field = rest.join(".");
  }
  if (out.nodeId === undefined) delete out.nodeId;
  if (out.edgeId === undefined) delete out.edgeId;
  return out;
}

export interface IssueIndex {
  all: LocatedIssue[];
  byNode: Map<string, LocatedIssue[]>;
  byEdge: Map<string, LocatedIssue[]>;
  /** Issues about the flow as a whole (name, cycles...). */
  flow: LocatedIssue[];
  errorCount: number;
  warningCount: number;
}

export function indexIssues(issues: readonly Issue[], flow: Flow | null): IssueIndex {
  const index: IssueIndex = { all: [], byNode: new Map(), byEdge: new Map(), flow: [], errorCount: 0, warningCount: 0 };
  for (const issue of issues) {
    const li = locateIssue(issue, flow);
    index.all.push(li);
    if (li.severity === "warning") index.warningCount++;
    else index.errorCount++;
    if (li.nodeId) push(index.byNode, li.nodeId, li);
    else if (li.edgeId) push(index.byEdge, li.edgeId, li);
    else index.flow.push(li);
    if (li.nodeId && li.edgeId) push(index.byEdge, li.edgeId, li);
  }
  return index;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** Issues of one form field: exact path match (errors on `columns` also show on the list itself). */
export function issuesForField(issues: readonly LocatedIssue[] | undefined, field: string, inConfig = true): LocatedIssue[] {
  if (!issues) return [];
  return issues.filter((i) => i.inConfig === inConfig && i.field === field);
}

/** Config issues that no rendered field claims (shown at the top of the form, never lost). */
export function unplacedIssues(issues: readonly LocatedIssue[] | undefined, renderedFields: ReadonlySet<string>): LocatedIssue[] {
  if (!issues) return [];
  return issues.filter((i) => !(i.inConfig && i.field !== undefined && renderedFields.has(i.field)) && !(!i.inConfig && i.field === "name"));
}
