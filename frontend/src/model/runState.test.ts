import { describe, expect, it } from "vitest";
import type { NodeMetrics } from "../api/types";
import { nodeRate } from "./format";
import { nodeRunState } from "./runState";

const m = (x: Partial<NodeMetrics>): NodeMetrics => ({
  type: "generate",
  state: "running",
  records_in: {},
  records_out: {},
  batches_in: 0,
  batches_out: 0,
  bytes_in: 0,
  bytes_out: 0,
  errors: 0,
  retries: 0,
  discarded_records: 0,
  busy_seconds: 0,
  records_in_per_second: 0,
  records_out_per_second: 0,
  last_error: null,
  ...x,
});

describe("node run state", () => {
  it("reads the larger of the split rates", () => {
    expect(nodeRate(m({ records_in_per_second: 10, records_out_per_second: 40 }))).toBe(40);
    expect(nodeRate(undefined)).toBe(0);
  });

  it("derives the dot from flow state, node state and errors", () => {
    expect(nodeRunState("configured", undefined)).toBe("none");
    expect(nodeRunState("running", undefined)).toBe("idle");
    expect(nodeRunState("running", m({ records_out_per_second: 100 }))).toBe("active");
    expect(nodeRunState("running", m({ state: "finished" }))).toBe("finished");
    expect(nodeRunState("paused", m({}))).toBe("paused");
    expect(nodeRunState("running", m({ state: "failed" }))).toBe("error");
    expect(nodeRunState("failed", m({}), { isErrorNode: true })).toBe("error");
    expect(nodeRunState("running", m({}), { runtimeErrors: 1 })).toBe("error");
    expect(nodeRunState("stopped", m({}))).toBe("stopped");
  });
});
