import { describe, expect, it } from "vitest";
import { catalog, sampleFlow } from "../test/fixtures";
import { checkConnection } from "./connection";
import { addNode } from "./edits";

const flow = sampleFlow();

describe("connection rules", () => {
  it("accepts output -> input and builds the edge", () => {
    const r = checkConnection(flow, catalog, { fromNode: "filter-1", fromHandle: "out:unmatched", toNode: "console-1", toHandle: "in:in" });
    expect(r).toEqual({ ok: true, edge: { source: "filter-1", source_port: "unmatched", target: "console-1", target_port: "in" } });
  });

  it("accepts a drag started on the input, normalising direction", () => {
    const r = checkConnection(flow, catalog, { fromNode: "console-1", fromHandle: "in:in", toNode: "filter-1", toHandle: "out:unmatched" });
    expect(r).toEqual({ ok: true, edge: { source: "filter-1", source_port: "unmatched", target: "console-1", target_port: "in" } });
  });

  it("refuses input -> input", () => {
    const r = checkConnection(flow, catalog, { fromNode: "filter-1", fromHandle: "in:in", toNode: "console-1", toHandle: "in:in" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/Both ends are inputs/);
  });

  it("refuses output -> output", () => {
    const r = checkConnection(flow, catalog, { fromNode: "filter-1", fromHandle: "out:matched", toNode: "generate-1", toHandle: "out:out" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/source and has no inputs/);
  });

  it("refuses connecting a node to itself", () => {
    const r = checkConnection(flow, catalog, { fromNode: "filter-1", fromHandle: "out:matched", toNode: "filter-1", toHandle: "in:in" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/itself/);
  });

  it("refuses a duplicate edge", () => {
    const r = checkConnection(flow, catalog, { fromNode: "generate-1", fromHandle: "out:out", toNode: "filter-1", toHandle: "in:in" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/already connected/);
  });

  it("refuses a drop on a source's body: it has no inputs", () => {
    const r = checkConnection(flow, catalog, { fromNode: "filter-1", fromHandle: "out:matched", toNode: "generate-1", toHandle: null });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/no inputs/);
  });

  it("a drop on a body with one input connects to it; with several asks for a port", () => {
    const r = checkConnection(flow, catalog, { fromNode: "filter-1", fromHandle: "out:unmatched", toNode: "console-1", toHandle: null });
    expect(r).toMatchObject({ ok: true, edge: { target_port: "in" } });
    const f2 = addNode(flow, { id: "join-1", type: "join", name: "J", config: {}, position: { x: 0, y: 0 } });
    const r2 = checkConnection(f2, catalog, { fromNode: "filter-1", fromHandle: "out:unmatched", toNode: "join-1", toHandle: null });
    expect(r2.ok).toBe(false);
  });

  it("refuses ports the node does not offer (failure without on_error=route)", () => {
    const r = checkConnection(flow, catalog, { fromNode: "filter-1", fromHandle: "out:failure", toNode: "console-1", toHandle: "in:in" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/no output port "failure"/);
  });

  it("refuses a drop on empty canvas", () => {
    expect(checkConnection(flow, catalog, { fromNode: "filter-1", fromHandle: "out:matched", toNode: null, toHandle: null }).ok).toBe(false);
  });
});
