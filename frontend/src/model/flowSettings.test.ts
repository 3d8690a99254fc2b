import { describe, expect, it } from "vitest";
import type { Issue } from "../api/types";
import { sampleFlow } from "../test/fixtures";
import { indexIssues } from "./errorPaths";
import { intervalError, settingsIssues } from "./flowSettings";

const issue = (p: Partial<Issue> & Pick<Issue, "path" | "code">): Issue => ({ message: p.code, severity: "error", ...p });

describe("flow settings", () => {
  it("sorts settings issues to their fields; delivery_unsupported stays on its node too", () => {
    const flow = sampleFlow();
    const index = indexIssues(
      [
        issue({ path: "nodes[2]", code: "delivery_unsupported", node_id: "console-1" }),
        issue({ path: "settings.checkpoint_interval_seconds", code: "invalid_document" }),
        issue({ path: "$.settings.delivery", code: "invalid_document" }),
        issue({ path: "settings", code: "invalid_document" }),
        issue({ path: "name", code: "invalid_document" }),
        issue({ path: "nodes[1].config.condition", code: "schema_error", node_id: "filter-1" }),
      ],
      flow,
    );
    const s = settingsIssues(index);
    expect(s.delivery.map((i) => i.code)).toEqual(["delivery_unsupported", "invalid_document"]);
    expect(s.delivery[0]!.nodeId).toBe("console-1");
    expect(s.interval.map((i) => i.path)).toEqual(["settings.checkpoint_interval_seconds"]);
    expect(s.other.map((i) => i.path)).toEqual(["settings"]);
    expect(index.byNode.get("console-1")?.map((i) => i.code)).toEqual(["delivery_unsupported"]); // the node's badge
  });

  it("checks the typed interval against the bounds", () => {
    expect(intervalError("2")).toBeNull();
    expect(intervalError("0.5")).toBeNull();
    expect(intervalError("3600")).toBeNull();
    expect(intervalError("0")).toMatch(/more than 0/);
    expect(intervalError("-1")).toMatch(/more than 0/);
    expect(intervalError("3600.5")).toMatch(/at most 3600/);
    expect(intervalError("")).toMatch(/number/);
    expect(intervalError("abc")).toMatch(/number/);
  });
});
