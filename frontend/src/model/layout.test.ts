import { describe, expect, it } from "vitest";
import { catalog, sampleFlow } from "../test/fixtures";
import { autoLayout, toElkGraph } from "./layout";
import { derivePorts } from "./ports";

describe("auto-layout", () => {
  const flow = sampleFlow();
  flow.nodes.reverse().forEach((n) => (n.position = { x: 0, y: 0 }));
  const ports = (id: string) => {
    const n = flow.nodes.find((x) => x.id === id)!;
    return derivePorts(catalog.get(n.type), undefined, n.id, flow.edges);
  };

  it("builds a layered left-to-right ELK graph with ports", () => {
    const g = toElkGraph(flow, new Map(), ports);
    expect(g.layoutOptions?.["elk.direction"]).toBe("RIGHT");
    expect(g.edges?.[1]).toMatchObject({ sources: ["filter-1::out::matched"], targets: ["console-1::in::in"] });
  });

  it("places each node right of its upstream", async () => {
    const pos = await autoLayout(flow, new Map(), ports);
    expect(pos.get("generate-1")!.x).toBeLessThan(pos.get("filter-1")!.x);
    expect(pos.get("filter-1")!.x).toBeLessThan(pos.get("console-1")!.x);
  });

  it("keeps the drawn port order: the upper output port's target sits higher", async () => {
    const f = sampleFlow();
    f.nodes.push({ id: "console-2", type: "console", name: "Rejected", config: {}, position: { x: 0, y: 0 } });
    // unmatched is drawn below matched: its target must end up below matched's target
    f.edges.push({ id: "e-3", source: "filter-1", source_port: "unmatched", target: "console-2", target_port: "in", settings: { max_batches: 64, max_bytes: 1 } });
    // list the unmatched target first so input order alone would put it on top
    f.nodes.reverse();
    const ports2 = (id: string) => {
      const n = f.nodes.find((x) => x.id === id)!;
      return derivePorts(catalog.get(n.type), undefined, n.id, f.edges);
    };
    const pos = await autoLayout(f, new Map(), ports2);
    expect(pos.get("console-1")!.y).toBeLessThan(pos.get("console-2")!.y);
  });
});
