import { describe, expect, it } from "vitest";
import type { FlowSchema, Issue } from "../api/types";
import { sampleFlow } from "../test/fixtures";
import { boundsText, buildConfigForm, type NumberField } from "./schemaForm";
import { indexIssues } from "./errorPaths";
import { settingsFieldPaths, settingsFormSchema, settingsIssues } from "./flowSettings";

const issue = (p: Partial<Issue> & Pick<Issue, "path" | "code">): Issue => ({ message: p.code, severity: "error", ...p });

// The shape GET /api/v1/schema/flow.json has (trimmed): the forms must take bounds and help from it.
const flowSchema: FlowSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "/api/v1/schema/flow.json",
  $ref: "#/$defs/Flow",
  $defs: {
    Flow: { type: "object", properties: { settings: { title: "Run settings", $ref: "#/$defs/FlowSettings" } } },
    Edge: { type: "object", properties: { settings: { title: "Queue thresholds", $ref: "#/$defs/EdgeSettings" } } },
    FlowSettings: {
      title: "FlowSettings",
      type: "object",
      properties: {
        delivery: { enum: ["at_least_once", "exactly_once"], description: "at_least_once: ...", default: "at_least_once" },
        checkpoint_interval_seconds: { type: "number", exclusiveMinimum: 0, maximum: 3600, default: 5 },
      },
    },
    EdgeSettings: { title: "EdgeSettings", type: "object", properties: { max_batches: { type: "integer", minimum: 1, maximum: 1000000, default: 64 } } },
  },
};

describe("settings forms", () => {
  it("are built from the served flow schema", () => {
    const flow = settingsFormSchema(flowSchema, "Flow")!;
    const [settings] = buildConfigForm(flow, {});
    expect(settings?.kind).toBe("object");
    expect(settings?.title).toBe("Run settings");
    const fields = settings?.kind === "object" ? settings.fields : [];
    expect(fields.map((f) => [f.path, f.kind])).toEqual([
      ["settings.delivery", "enum"],
      ["settings.checkpoint_interval_seconds", "number"],
    ]);
    expect(fields[1]).toMatchObject({ exclusiveMinimum: 0, maximum: 3600, default: 5 });
    expect(boundsText(fields[1] as NumberField)).toBe("> 0, ≤ 3600");
    const [edge] = buildConfigForm(settingsFormSchema(flowSchema, "Edge")!, {});
    expect(edge?.kind === "object" ? edge.fields.map((f) => f.path) : []).toEqual(["settings.max_batches"]);
    expect(settingsFieldPaths(flow)).toEqual(new Set(["settings.delivery", "settings.checkpoint_interval_seconds"]));
    expect(settingsFormSchema(null, "Flow")).toBeNull();
  });

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
    const s = settingsIssues(index, settingsFieldPaths(settingsFormSchema(flowSchema, "Flow")));
    expect(s.fields.map((i) => [i.field, i.code, i.inConfig])).toEqual([
      ["settings.delivery", "delivery_unsupported", true],
      ["settings.checkpoint_interval_seconds", "invalid_document", true],
      ["settings.delivery", "invalid_document", true],
    ]);
    expect(s.nodes.map((i) => i.nodeId)).toEqual(["console-1"]);
    expect(s.other.map((i) => i.path)).toEqual(["settings"]);
    expect(index.byNode.get("console-1")?.map((i) => i.code)).toEqual(["delivery_unsupported"]); // the node's badge
  });
});
