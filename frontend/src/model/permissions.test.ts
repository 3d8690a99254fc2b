import { describe, expect, it } from "vitest";
import { allows, gate, permissionsFor, ROLES } from "./permissions";

describe("permissions", () => {
  it("orders the roles: each allows what the one before it does", () => {
    expect(allows("admin", "viewer")).toBe(true);
    expect(allows("operator", "operator")).toBe(true);
    expect(allows("operator", "editor")).toBe(false);
    expect(allows("viewer", "operator")).toBe(false);
  });

  it("matches the server's table for every role", () => {
    const table = Object.fromEntries(
      ROLES.map((r) => {
        const p = permissionsFor(r);
        return [r, [p.read, p.run, p.edit, p.secretNames, p.secretValues, p.admin].map((x) => x.allowed)];
      }),
    );
    expect(table).toEqual({
      viewer: [true, false, false, false, false, false],
      operator: [true, true, false, false, false, false],
      editor: [true, true, true, true, false, false],
      admin: [true, true, true, true, true, true],
    });
  });

  it("says which role a denied control needs", () => {
    expect(permissionsFor("viewer").run.reason).toBe("needs the operator role (you are viewer)");
    expect(permissionsFor("operator").edit.reason).toBe("needs the editor role (you are operator)");
    expect(permissionsFor("editor").secretValues.reason).toBe("needs the admin role (you are editor)");
    expect(permissionsFor("admin").secretValues.reason).toBeUndefined();
  });

  it("gates a control: disabled with the reason as tooltip, its own title otherwise", () => {
    expect(gate(permissionsFor("viewer").run, "Start")).toEqual({ disabled: true, title: "needs the operator role (you are viewer)", "aria-description": "needs the operator role (you are viewer)" });
    expect(gate(permissionsFor("operator").run, "Start")).toEqual({ disabled: false, title: "Start", "aria-description": undefined });
  });
});
