import { describe, expect, it } from "vitest";
import type { Issue } from "../api/types";
import { sampleFlow } from "../test/fixtures";
import { indexIssues, issuesForField, locateIssue, parseIssuePath, unplacedIssues } from "./errorPaths";

const flow = sampleFlow();
const issue = (p: Partial<Issue>): Issue => ({ path: "", code: "x", message: "m", severity: "error", ...p });

describe("error path parsing", () => {
  it("understands bracket, $-prefixed, pointer and dotted paths", () => {
    expect(parseIssuePath("nodes[2].config.condition")).toEqual(["nodes", 2, "config", "condition"]);
    expect(parseIssuePath("$.nodes[1].config.columns[0].name")).toEqual(["nodes", 1, "config", "columns", 0, "name"]);
    expect(parseIssuePath("/nodes/1/config/columns/0/name")).toEqual(["nodes", 1, "config", "columns", 0, "name"]);
    expect(parseIssuePath("nodes.1.config")).toEqual(["nodes", 1, "config"]);
    expect(parseIssuePath("nodes[gen].name")).toEqual(["nodes", "gen", "name"]);
    expect(parseIssuePath("nodes[2].config.rules[0].port")).toEqual(["nodes", 2, "config", "rules", 0, "port"]);
    expect(parseIssuePath("$")).toEqual([]);
    expect(parseIssuePath("")).toEqual([]);
  });
});

describe("error -> node and form field", () => {
  it("maps nodes[i].config.x to the node at index i and field x", () => {
    expect(locateIssue(issue({ path: "nodes[1].config.condition" }), flow)).toMatchObject({ nodeId: "filter-1", field: "condition", inConfig: true });
  });

  it("maps array items to dotted field paths", () => {
    expect(locateIssue(issue({ path: "nodes[1].config.columns[0].name" }), flow)).toMatchObject({ nodeId: "filter-1", field: "columns.0.name" });
  });

  it("prefers node_id with a path suffix", () => {
    expect(locateIssue(issue({ node_id: "console-1", path: "config.condition" }), flow)).toMatchObject({ nodeId: "console-1", field: "condition", inConfig: true });
    expect(locateIssue(issue({ node_id: "filter-1", path: "nodes[0].config.condition" }), flow)).toMatchObject({ nodeId: "filter-1", field: "condition" });
    expect(locateIssue(issue({ node_id: "filter-1", path: "name" }), flow)).toMatchObject({ nodeId: "filter-1", field: "name", inConfig: false });
  });

  it("a node-level error (whole config or node) has no field", () => {
    const l = locateIssue(issue({ path: "nodes[1].config" }), flow);
    expect(l).toMatchObject({ nodeId: "filter-1", inConfig: true });
    expect(l.field).toBeUndefined();
    expect(locateIssue(issue({ path: "nodes[1]" }), flow).field).toBeUndefined();
  });

  it("maps server paths naming the node by id", () => {
    expect(locateIssue(issue({ path: "nodes[filter-1].config.condition" }), flow)).toMatchObject({ nodeId: "filter-1", field: "condition", inConfig: true });
    expect(locateIssue(issue({ path: "nodes[2].config.rules[0].port", node_id: "console-1" }), flow)).toMatchObject({ nodeId: "console-1", field: "rules.0.port" });
  });

  it("maps edges by index or id", () => {
    expect(locateIssue(issue({ path: "edges[1].settings.max_batches" }), flow)).toMatchObject({ edgeId: "e-2", field: "settings.max_batches" });
    expect(locateIssue(issue({ edge_id: "e-1", path: "" }), flow)).toMatchObject({ edgeId: "e-1" });
  });

  it("indexes issues per node, edge and flow with counts", () => {
    const idx = indexIssues(
      [
        issue({ path: "nodes[1].config.condition" }),
        issue({ node_id: "filter-1", path: "config.concurrency", severity: "warning" }),
        issue({ path: "edges[0]" }),
        issue({ path: "name" }),
      ],
      flow,
    );
    expect(idx.byNode.get("filter-1")).toHaveLength(2);
    expect(idx.byEdge.get("e-1")).toHaveLength(1);
    expect(idx.flow).toHaveLength(1);
    expect([idx.errorCount, idx.warningCount]).toEqual([3, 1]);
    const nodeIssues = idx.byNode.get("filter-1");
    expect(issuesForField(nodeIssues, "condition").map((i) => i.severity)).toEqual(["error"]);
    expect(issuesForField(nodeIssues, "concurrency").map((i) => i.severity)).toEqual(["warning"]);
    expect(unplacedIssues(nodeIssues, new Set(["condition"]))).toHaveLength(1);
  });
});
