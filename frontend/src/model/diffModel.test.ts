import { describe, expect, it } from "vitest";
import type { FlowDiff } from "../api/types";
import { sampleFlow } from "../test/fixtures";
import { buildDiffModel, formatValue } from "./diffModel";

const empty: FlowDiff = { nodes_added: [], nodes_removed: [], nodes_changed: [], edges_added: [], edges_removed: [], edges_changed: [], name_changed: false, description_changed: false, settings_changed: false };

describe("diff rendering model", () => {
  it("an empty diff says so", () => {
    expect(buildDiffModel(empty)).toEqual({ sections: [], summary: "No differences", empty: true });
  });

  it("lists nodes and edges added, removed and changed with config old -> new", () => {
    const f = sampleFlow();
    const m = buildDiffModel({
      ...empty,
      name_changed: true,
      nodes_added: [f.nodes[2]!],
      nodes_removed: [f.nodes[0]!],
      nodes_changed: [{ id: "filter-1", name_changed: false, moved: true, type_changed: false, config_keys_changed: ["condition", "limit"], config_changes: { condition: { old: "a > 1", new: "a > 2" }, limit: { old: undefined, new: 5 } } }],
      edges_added: [f.edges[1]!],
      edges_changed: [{ id: "e-1", settings_changed: true, endpoints_changed: false }],
    });
    expect(m.sections.map((s) => s.title)).toEqual(["Flow", "Nodes", "Connections"]);
    const nodes = m.sections[1]!.items;
    expect(nodes.map((i) => [i.kind, i.id])).toEqual([
      ["added", "console-1"],
      ["removed", "generate-1"],
      ["changed", "filter-1"],
    ]);
    expect(nodes[0]!.label).toBe("Out (console-1, console)");
    expect(nodes[2]!.details).toEqual([
      { label: "moved" },
      { label: "config.condition", old: '"a > 1"', new: '"a > 2"' },
      { label: "config.limit", old: "(not set)", new: "5" },
    ]);
    const edges = m.sections[2]!.items;
    expect(edges[0]!.label).toBe("filter-1.matched → console-1.in");
    expect(edges[1]!.details).toEqual([{ label: "settings changed" }]);
    expect(m.summary).toBe("flow name changed, 1 node added, 1 node removed, 1 node changed, 1 connection added, 1 connection changed");
  });

  it("shows flow-level changes: name, description, settings", () => {
    const m = buildDiffModel({ ...empty, description_changed: true, settings_changed: true });
    expect(m.sections).toEqual([
      {
        title: "Flow",
        items: [
          { kind: "changed", id: "description", label: "Flow description changed", details: [] },
          { kind: "changed", id: "settings", label: "Flow settings changed", details: [] },
        ],
      },
    ]);
    expect(m.summary).toBe("flow description changed, flow settings changed");
    expect(m.empty).toBe(false);
  });

  it("truncates long values", () => {
    expect(formatValue("x".repeat(500)).length).toBe(120);
    expect(formatValue({ a: [1, 2] })).toBe('{"a":[1,2]}');
  });
});
