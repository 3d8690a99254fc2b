import { describe, expect, it } from "vitest";
import { nameProblem, parseDays, passwordProblem } from "./accounts";

describe("account forms", () => {
  it("checks names as the server does", () => {
    expect(nameProblem("alice")).toBeNull();
    expect(nameProblem("ci.deploy@team-1")).toBeNull();
    expect(nameProblem("", "A user name")).toBe("A user name is required.");
    expect(nameProblem("-alice")).toMatch(/starting with a letter or digit/);
    expect(nameProblem("al ice")).not.toBeNull();
    expect(nameProblem("a".repeat(65))).not.toBeNull();
  });

  it("checks passwords as the server does", () => {
    expect(passwordProblem("long enough")).toBeNull();
    expect(passwordProblem("short")).toBe("A password has at least 8 characters.");
    expect(passwordProblem(" padded password")).toMatch(/spaces/);
  });

  it("parses a token lifetime in days", () => {
    expect(parseDays("90")).toBe(90);
    expect(parseDays("0.5")).toBe(0.5);
    expect(parseDays("0")).toMatch(/Between/);
    expect(parseDays("4000")).toMatch(/Between/);
    expect(parseDays("soon")).toMatch(/number/);
  });
});
