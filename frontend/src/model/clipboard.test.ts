import { describe, expect, it } from "vitest";
import { sampleFlow } from "../test/fixtures";
import { copySelection, pasteClipboard } from "./clipboard";
import { isValidId, newEdgeId, uniqueNodeId } from "./ids";

describe("copy/paste", () => {
  it("copies selected nodes and only the edges between them", () => {
    const clip = copySelection(sampleFlow(), ["filter-1", "console-1"])!;
    expect(clip.nodes.map((n) => n.id)).toEqual(["filter-1", "console-1"]);
    expect(clip.edges.map((e) => e.id)).toEqual(["e-2"]);
    expect(copySelection(sampleFlow(), [])).toBeNull();
  });

  it("pastes with new ids and remaps edges to the new nodes", () => {
    const flow = sampleFlow();
    const clip = copySelection(flow, ["filter-1", "console-1"])!;
    const r = pasteClipboard(flow, clip, { x: 40, y: 40 });
    expect(r.nodeIds).toEqual(["filter-2", "console-2"]);
    expect(r.flow.nodes).toHaveLength(5);
    const pasted = r.flow.edges.find((e) => e.id === r.edgeIds[0])!;
    expect(pasted).toMatchObject({ source: "filter-2", source_port: "matched", target: "console-2", target_port: "in", settings: { max_batches: 8 } });
    expect(pasted.id).not.toBe("e-2");
    expect(r.flow.nodes.find((n) => n.id === "filter-2")!.position).toEqual({ x: 340, y: 40 });
    // config is a copy, not shared
    expect(r.flow.nodes.find((n) => n.id === "filter-2")!.config).not.toBe(flow.nodes[1]!.config);
    expect(r.flow.nodes.find((n) => n.id === "filter-2")!.config).toEqual(flow.nodes[1]!.config);
    // pasting twice keeps ids unique
    const r2 = pasteClipboard(r.flow, clip);
    expect(r2.nodeIds).toEqual(["filter-3", "console-3"]);
    const ids = r2.flow.nodes.map((n) => n.id);
    expect(new Set(ids).size).toBe(ids.length);
    const eids = r2.flow.edges.map((e) => e.id);
    expect(new Set(eids).size).toBe(eids.length);
  });

  it("generates ids matching the server's pattern", () => {
    expect(uniqueNodeId("read_file", new Set(["read_file-1"]))).toBe("read_file-2");
    expect(uniqueNodeId("weird type!", new Set())).toBe("weird-type-1");
    expect(isValidId(uniqueNodeId("__x", new Set()))).toBe(true);
    let seq = 0;
    const rand = () => [0.1, 0.1, 0.1, 0.1, 0.5, 0.5, 0.5, 0.5][seq++ % 8]!;
    const taken = new Set(["e-1111"]);
    const id = newEdgeId(taken, rand);
    expect(id).toBe("e-8888");
    expect(isValidId(id)).toBe(true);
  });
});
