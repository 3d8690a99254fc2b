import { describe, expect, it } from "vitest";
import type { JsonObject } from "../api/types";
import { catalog } from "../test/fixtures";
import { derivePorts, handleId, outputPortNames, parseHandleId } from "./ports";

describe("port derivation", () => {
  it("uses catalog inputs and outputs", () => {
    const p = derivePorts(catalog.get("filter"), { id: "f", config: {} });
    expect(p.inputs.map((x) => x.name)).toEqual(["in"]);
    expect(p.outputs.map((x) => x.name)).toEqual(["matched", "unmatched"]);
  });

  it("adds the failure port when on_error is route", () => {
    const p = derivePorts(catalog.get("filter"), { id: "f", config: { on_error: "route" } });
    expect(p.outputs).toEqual([
      { name: "matched", kind: "out" },
      { name: "unmatched", kind: "out" },
      { name: "failure", kind: "out", failure: true },
    ]);
    expect(outputPortNames(catalog.get("filter"), { on_error: "fail" })).toEqual(["matched", "unmatched"]);
  });

  it("route: one port per rule plus unmatched", () => {
    const cfg: JsonObject = { rules: [{ port: "big", condition: "a>1" }, { port: "small", condition: "a<1" }, { port: "big" }, { condition: "x" }] };
    expect(outputPortNames(catalog.get("route"), cfg)).toEqual(["big", "small", "unmatched"]);
    expect(outputPortNames(catalog.get("route"), { ...cfg, on_error: "route" })).toEqual(["big", "small", "unmatched", "failure"]);
    expect(outputPortNames(catalog.get("route"), {})).toEqual(["unmatched"]);
  });

  it("sources have no inputs, sinks no outputs", () => {
    expect(derivePorts(catalog.get("generate"), { id: "g", config: {} }).inputs).toEqual([]);
    expect(derivePorts(catalog.get("console"), { id: "c", config: {} }).outputs).toEqual([]);
  });

  it("keeps ports still used by edges, flagged missing", () => {
    const edges = [{ id: "e", source: "f", source_port: "failure", target: "c", target_port: "in", settings: { max_batches: 1, max_bytes: 1 } }];
    const p = derivePorts(catalog.get("filter"), { id: "f", config: {} }, edges);
    expect(p.outputs.at(-1)).toEqual({ name: "failure", kind: "out", missing: true });
    const unknown = derivePorts(undefined, { id: "c", config: {} }, edges);
    expect(unknown.inputs).toEqual([{ name: "in", kind: "in", missing: true }]);
  });

  it("handle ids encode direction", () => {
    expect(handleId("out", "matched")).toBe("out:matched");
    expect(parseHandleId("in:in")).toEqual({ kind: "in", port: "in" });
    expect(parseHandleId("bogus")).toBeNull();
  });
});
