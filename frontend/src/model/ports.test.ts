import { describe, expect, it } from "vitest";
import type { FlowEdge } from "../api/types";
import { catalog, proc } from "../test/fixtures";
import { derivePorts, handleId, parseHandleId } from "./ports";

const edge = (source: string, source_port: string, target: string, target_port = "in"): FlowEdge => ({
  id: `${source}-${source_port}`,
  source,
  source_port,
  target,
  target_port,
  settings: { max_batches: 1, max_bytes: 1 },
});

// The catalog lists every port lookup_join may have; its config decides which it has.
const lookupJoin = proc({ type: "lookup_join", category: "transform", outputs: ["out", "unmatched"] });

describe("ports", () => {
  it("before the first report: the catalog's inputs and outputs", () => {
    const p = derivePorts(catalog.get("filter"), undefined, "f");
    expect(p.inputs.map((x) => x.name)).toEqual(["in"]);
    expect(p.outputs.map((x) => x.name)).toEqual(["matched", "unmatched"]);
  });

  it("draws what the validation report declares for the node's config", () => {
    // lookup_join with unmatched: keep has only `out` (it used to keep showing `unmatched`).
    const keep = derivePorts(lookupJoin, { inputs: ["in"], outputs: ["out"] }, "j");
    expect(keep.outputs).toEqual([{ name: "out", kind: "out" }]);
    const route = derivePorts(lookupJoin, { inputs: ["in"], outputs: ["out", "unmatched"] }, "j");
    expect(route.outputs.map((x) => x.name)).toEqual(["out", "unmatched"]);
    // route: the server names one port per rule.
    const rules = derivePorts(catalog.get("route"), { inputs: ["in"], outputs: ["big", "small", "unmatched"] }, "r");
    expect(rules.outputs.map((x) => x.name)).toEqual(["big", "small", "unmatched"]);
  });

  it("marks the failure port of on_error: route", () => {
    const p = derivePorts(catalog.get("filter"), { inputs: ["in"], outputs: ["matched", "unmatched", "failure"] }, "f");
    expect(p.outputs).toEqual([
      { name: "matched", kind: "out" },
      { name: "unmatched", kind: "out" },
      { name: "failure", kind: "out", failure: true },
    ]);
  });

  it("keeps ports still used by edges, flagged missing once the server says they are gone", () => {
    const edges = [edge("j", "unmatched", "c")];
    const gone = derivePorts(lookupJoin, { inputs: ["in"], outputs: ["out"] }, "j", edges);
    expect(gone.outputs).toEqual([
      { name: "out", kind: "out" },
      { name: "unmatched", kind: "out", missing: true },
    ]);
    const failure = derivePorts(catalog.get("filter"), { inputs: ["in"], outputs: ["matched", "unmatched"] }, "f", [edge("f", "failure", "c")]);
    expect(failure.outputs.at(-1)).toEqual({ name: "failure", kind: "out", failure: true, missing: true });
    // Not validated yet (or the config does not decode): drawn, not judged.
    const pending = derivePorts(catalog.get("filter"), undefined, "f", [edge("f", "failure", "c")]);
    expect(pending.outputs.at(-1)).toEqual({ name: "failure", kind: "out", failure: true });
    // An unknown processor type offers nothing: every used port is missing.
    const unknown = derivePorts(undefined, undefined, "c", edges);
    expect(unknown.inputs).toEqual([{ name: "in", kind: "in", missing: true }]);
  });

  it("sources have no inputs, sinks no outputs", () => {
    expect(derivePorts(catalog.get("generate"), undefined, "g").inputs).toEqual([]);
    expect(derivePorts(catalog.get("console"), { inputs: ["in"], outputs: [] }, "c").outputs).toEqual([]);
  });

  it("handle ids encode direction", () => {
    expect(handleId("out", "matched")).toBe("out:matched");
    expect(parseHandleId("in:in")).toEqual({ kind: "in", port: "in" });
    expect(parseHandleId("bogus")).toBeNull();
  });
});
