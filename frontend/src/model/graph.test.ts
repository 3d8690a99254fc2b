import { describe, expect, it } from "vitest";
import type { Flow } from "../api/types";
import { sampleFlow } from "../test/fixtures";
import { edgeChangesToEdits, nodeChangesToEdits } from "./changes";
import { applyEdits, emptyFlow, moveNodes, normalizeFlow, reconcile, updateNode } from "./edits";
import { emptyView, fromRf, toRfEdges, toRfNodes, type FlowRfEdge, type ProcessorRfNode } from "./graph";

describe("flow document <-> React Flow", () => {
  it("round-trips a document through canvas nodes and edges", () => {
    const flow = sampleFlow();
    const nodes = toRfNodes(flow, emptyView());
    const edges = toRfEdges(flow, emptyView());
    expect(nodes.map((n) => n.id)).toEqual(["generate-1", "filter-1", "console-1"]);
    expect(edges[1]).toMatchObject({ source: "filter-1", sourceHandle: "out:matched", target: "console-1", targetHandle: "in:in" });
    expect(nodes[1]!.data).toBe(flow.nodes[1]); // data IS the document node
    expect(fromRf(flow, nodes, edges)).toEqual(flow);
  });

  it("round-trips after a JSON serialisation (the canvas holds plain JSON)", () => {
    const flow = sampleFlow();
    const nodes = JSON.parse(JSON.stringify(toRfNodes(flow, emptyView()))) as ProcessorRfNode[];
    const edges = JSON.parse(JSON.stringify(toRfEdges(flow, emptyView()))) as FlowRfEdge[];
    expect(fromRf(flow, nodes, edges)).toEqual(flow);
  });

  it("reuses unchanged canvas node objects so memoised nodes do not re-render", () => {
    const flow = sampleFlow();
    const cache = new Map<string, ProcessorRfNode>();
    const a = toRfNodes(flow, emptyView(), cache);
    const moved = applyEdits(flow, [{ kind: "move", id: "filter-1", position: { x: 10, y: 20 } }]);
    const b = toRfNodes(moved, emptyView(), cache);
    expect(b[0]).toBe(a[0]);
    expect(b[2]).toBe(a[2]);
    expect(b[1]).not.toBe(a[1]);
    expect(b[1]!.position).toEqual({ x: 10, y: 20 });
  });

  it("carries selection and measured size", () => {
    const flow = sampleFlow();
    const view = { selectedNodes: new Set(["filter-1"]), selectedEdges: new Set(["e-2"]), measured: new Map([["filter-1", { width: 200, height: 80 }]]) };
    const nodes = toRfNodes(flow, view);
    expect(nodes[1]).toMatchObject({ selected: true, measured: { width: 200, height: 80 } });
    expect(nodes[0]!.selected).toBe(false);
    expect(toRfEdges(flow, view)[1]!.selected).toBe(true);
  });

  it("normalises documents missing optional fields", () => {
    const raw = { id: "x", name: "n", nodes: [{ id: "a", type: "filter" }], edges: [{ id: "e", source: "a", target: "b" }] } as never;
    const f = normalizeFlow(raw);
    expect(f.nodes[0]).toEqual({ id: "a", type: "filter", name: "", config: {}, position: { x: 0, y: 0 } });
    expect(f.edges[0]).toMatchObject({ source_port: "out", target_port: "in", settings: { max_batches: 64, max_bytes: 67108864 } });
    expect(f.settings).toEqual({ delivery: "at_least_once", checkpoint_interval_seconds: 5 });
  });

  it("fills only the settings a document lacks", () => {
    const raw = { ...sampleFlow(), settings: { delivery: "exactly_once" } } as never;
    expect(normalizeFlow(raw).settings).toEqual({ delivery: "exactly_once", checkpoint_interval_seconds: 5 });
  });

  it("a new flow has the default settings", () => {
    const f = emptyFlow("new");
    expect(f).toEqual({ id: "", name: "new", description: "", format_version: 2, nodes: [], edges: [], settings: { delivery: "at_least_once", checkpoint_interval_seconds: 5 } });
    expect(normalizeFlow(f)).toEqual(f);
  });
});

describe("lossless round trip (settings and fields the editor does not know)", () => {
  /** A document as a newer server might send it: non-default settings, unknown fields at every level. */
  function richDocument(): Flow {
    const f = sampleFlow();
    return {
      ...f,
      settings: { delivery: "exactly_once", checkpoint_interval_seconds: 2.5, future_setting: "x" },
      labels: { team: "payments" },
      future_field: [1, 2, 3],
      nodes: f.nodes.map((n, i) => (i === 0 ? { ...n, notes: "keep me", position: { ...n.position, z: 1 } } : n)),
      edges: f.edges.map((e, i) => (i === 0 ? { ...e, color: "red" } : e)),
    } as Flow;
  }

  it("normalize -> toRf -> fromRf gives back the same document", () => {
    const doc = richDocument();
    const original = structuredClone(doc);
    const normalized = normalizeFlow(doc);
    expect(normalized).toEqual(original);
    const nodes = JSON.parse(JSON.stringify(toRfNodes(normalized, emptyView()))) as ProcessorRfNode[];
    const edges = JSON.parse(JSON.stringify(toRfEdges(normalized, emptyView()))) as FlowRfEdge[];
    const back = fromRf(normalized, nodes, edges);
    expect(back).toEqual(original);
    expect(JSON.stringify(back)).toBe(JSON.stringify(original)); // same keys, same order
    expect(doc).toEqual(original); // nothing mutated
  });

  it("edits keep the settings and the unknown fields", () => {
    const doc = normalizeFlow(richDocument());
    const edited = moveNodes(updateNode(doc, "filter-1", { name: "renamed" }), new Map([["generate-1", { x: 5, y: 6 }]]));
    expect(edited.settings).toBe(doc.settings);
    expect((edited as unknown as Record<string, unknown>)["labels"]).toEqual({ team: "payments" });
    expect((edited as unknown as Record<string, unknown>)["future_field"]).toEqual([1, 2, 3]);
    expect(edited.nodes[0]).toEqual({ ...doc.nodes[0], position: { x: 5, y: 6, z: 1 } });
  });
});

describe("React Flow changes -> domain edits", () => {
  it("maps drags to moves and keeps drag state", () => {
    const view = emptyView();
    const r = nodeChangesToEdits([{ type: "position", id: "filter-1", position: { x: 10.4, y: 19.6 }, dragging: true }], view);
    expect(r.edits).toEqual([{ kind: "move", id: "filter-1", position: { x: 10, y: 20 } }]);
    expect(r.dragging).toBe(true);
    expect(r.view).toBe(view);
    const end = nodeChangesToEdits([{ type: "position", id: "filter-1", dragging: false }], view);
    expect(end.edits).toEqual([]);
    expect(end.dragging).toBe(false);
  });

  it("maps selection and dimensions to view state only", () => {
    const view = emptyView();
    const r = nodeChangesToEdits(
      [
        { type: "select", id: "a", selected: true },
        { type: "dimensions", id: "a", dimensions: { width: 10, height: 20 } },
      ],
      view,
    );
    expect(r.edits).toEqual([]);
    expect([...r.view.selectedNodes]).toEqual(["a"]);
    expect(r.view.measured.get("a")).toEqual({ width: 10, height: 20 });
    const again = nodeChangesToEdits([{ type: "select", id: "a", selected: true }], r.view);
    expect(again.view).toBe(r.view);
  });

  it("removing a node removes its edges from the document", () => {
    const flow = sampleFlow();
    const r = nodeChangesToEdits([{ type: "remove", id: "filter-1" }], { ...emptyView(), selectedNodes: new Set(["filter-1"]) });
    const next = applyEdits(flow, r.edits);
    expect(next.nodes.map((n) => n.id)).toEqual(["generate-1", "console-1"]);
    expect(next.edges).toEqual([]);
    expect(r.view.selectedNodes.size).toBe(0);
  });

  it("maps edge removal and selection", () => {
    const flow = sampleFlow();
    const r = edgeChangesToEdits(
      [
        { type: "select", id: "e-1", selected: true },
        { type: "remove", id: "e-2" },
      ],
      emptyView(),
    );
    expect(applyEdits(flow, r.edits).edges.map((e) => e.id)).toEqual(["e-1"]);
    expect([...r.view.selectedEdges]).toEqual(["e-1"]);
  });
});

describe("reconcile", () => {
  it("keeps references of deep-equal parts, matching nodes by id", () => {
    const prev = sampleFlow();
    const next = structuredClone(prev);
    next.nodes.reverse();
    next.nodes[0]!.name = "changed";
    const r = reconcile(prev, next);
    expect(r).not.toBe(prev);
    expect(r.nodes[1]).toBe(prev.nodes[1]);
    expect(r.nodes[2]).toBe(prev.nodes[0]);
    expect(r.nodes[0]!.name).toBe("changed");
    expect(r.edges).toBe(prev.edges);
    expect(reconcile(prev, structuredClone(prev))).toBe(prev);
  });
});
