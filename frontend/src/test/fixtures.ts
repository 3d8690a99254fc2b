/** Shared test fixtures: a small catalog shaped like the backend's, and a sample flow. */

import type { Flow, ProcessorInfo } from "../api/types";

const baseProps = {
  on_error: { title: "On error", enum: ["drop", "fail", "retry", "route"], default: "fail" },
  max_retries: { title: "Retries", type: "integer", minimum: 0, maximum: 100, default: 3 },
};
const baseUi = { on_error: { "x-advanced": true }, max_retries: { "x-advanced": true } };

export function proc(p: Partial<ProcessorInfo> & Pick<ProcessorInfo, "type" | "category">): ProcessorInfo {
  return {
    title: p.type,
    description: "",
    summary: "",
    status: "stable",
    icon: p.category,
    inputs: p.category === "source" ? [] : ["in"],
    outputs: p.category === "sink" ? [] : ["out"],
    failure_port: "failure",
    config_schema: { type: "object", properties: { ...baseProps }, required: [] },
    ui_schema: { ...baseUi },
    examples: [],
    ...p,
  };
}

export const catalogList: ProcessorInfo[] = [
  proc({ type: "generate", category: "source", title: "Generate" }),
  proc({
    type: "filter",
    category: "transform",
    title: "Filter",
    outputs: ["matched", "unmatched"],
    config_schema: {
      type: "object",
      properties: { ...baseProps, condition: { title: "Condition", type: "string", minLength: 1 } },
      required: ["condition"],
    },
    ui_schema: { ...baseUi, condition: { "ui:widget": "sql", "ui:placeholder": "amount > 100" } },
  }),
  proc({ type: "route", category: "transform", title: "Route", outputs: [] }),
  proc({ type: "console", category: "sink", title: "Console" }),
  proc({ type: "join", category: "transform", title: "Join", inputs: ["left", "right"] }),
];

export const catalog = new Map(catalogList.map((p) => [p.type, p]));

export function sampleFlow(): Flow {
  return {
    id: "f1",
    name: "Orders",
    description: "",
    format_version: 1,
    nodes: [
      { id: "generate-1", type: "generate", name: "Gen", config: {}, position: { x: 0, y: 0 } },
      { id: "filter-1", type: "filter", name: "Paid", config: { condition: "amount > 1" }, position: { x: 300, y: 0 } },
      { id: "console-1", type: "console", name: "Out", config: {}, position: { x: 600, y: 0 } },
    ],
    edges: [
      { id: "e-1", source: "generate-1", source_port: "out", target: "filter-1", target_port: "in", settings: { max_batches: 64, max_bytes: 67108864 } },
      { id: "e-2", source: "filter-1", source_port: "matched", target: "console-1", target_port: "in", settings: { max_batches: 8, max_bytes: 1024 } },
    ],
    settings: { delivery: "at_least_once", checkpoint_interval_seconds: 5 },
  };
}
