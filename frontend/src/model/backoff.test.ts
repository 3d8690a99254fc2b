import { describe, expect, it } from "vitest";
import { backoffDelay } from "../hooks/useRunConnection";

describe("WebSocket reconnect backoff", () => {
  it("doubles from 500 ms up to 30 s, with jitter", () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, mid))).toEqual([500, 1000, 2000, 4000, 30000]);
    expect(backoffDelay(0, () => 0)).toBe(375);
    expect(backoffDelay(0, () => 1)).toBe(625);
  });
});
