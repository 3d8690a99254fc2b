import { describe, expect, it } from "vitest";
import { fillColor, formatBytes, formatCount, formatRate, formatRelative, streamLabel, sumValues } from "./format";

describe("formatting", () => {
  it("counts, rates and bytes", () => {
    expect(formatCount(1234)).toBe("1,234");
    expect(formatCount(12345)).toBe("12.3k");
    expect(formatCount(2_500_000)).toBe("2.50M");
    expect(formatRate(0)).toBe("0/s");
    expect(formatBytes(64 * 1024 * 1024)).toBe("64.0 MiB");
    expect(formatBytes(10)).toBe("10 B");
    expect(sumValues({ a: 1, b: 2 })).toBe(3);
  });

  it("relative times", () => {
    expect(formatRelative(1000, 1000_000 + 2000)).toBe("just now");
    expect(formatRelative(1000, 1000_000 + 120_000)).toBe("2 min ago");
  });

  it("queue fill goes grey -> orange -> red", () => {
    expect(fillColor(0)).toBe("rgb(148, 163, 184)");
    expect(fillColor(0.5)).toBe("rgb(249, 115, 22)");
    expect(fillColor(1)).toBe("rgb(220, 38, 38)");
    expect(fillColor(7)).toBe("rgb(220, 38, 38)");
  });

  it("journal streams: design history, or the run's own id", () => {
    expect(streamLabel("flow-flow-ab12", "flow-ab12")).toBe("design");
    expect(streamLabel("run-run-c16e", "flow-ab12")).toBe("run-c16e");
    expect(streamLabel("flow-other", "flow-ab12")).toBe("flow-other");
  });
});
