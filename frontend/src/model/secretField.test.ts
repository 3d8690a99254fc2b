import { describe, expect, it } from "vitest";
import type { JsonSchema, UiSchema } from "../api/types";
import { buildConfigForm, setIn } from "./schemaForm";
import { checkNewSecret, isSecretRef, readSecretField, secretOptions, secretRef, suggestSecretName } from "./secretField";

// As the catalog publishes postgres_query's and kafka_consume's secret fields.
const schema: JsonSchema = {
  type: "object",
  properties: {
    dsn: { title: "Connection URL", type: "string", minLength: 1 },
    password: { title: "Password", anyOf: [{ type: "string" }, { type: "null" }], default: null },
    sasl_password: { title: "SASL password", type: "string", default: "" },
    api_token: { title: "Token", type: "string", "x-secret": true },
    masked: { title: "Masked", type: "string" },
  },
  required: ["dsn", "api_token"],
};
const ui: UiSchema = {
  password: { "x-secret": true },
  sasl_password: { "ui:widget": "password", "x-advanced": true, "x-secret": true },
  masked: { "ui:widget": "password" },
};

describe("x-secret fields in the form model", () => {
  const fields = buildConfigForm(schema, ui);
  const byKey = (k: string) => fields.find((f) => f.key === k)!;

  it("are secret pickers, from the ui-schema or inline hints, whatever the value type", () => {
    expect(byKey("password")).toMatchObject({ kind: "secret", nullable: true, default: null, title: "Password", required: false });
    expect(byKey("sasl_password")).toMatchObject({ kind: "secret", advanced: true, default: "" });
    expect(byKey("api_token")).toMatchObject({ kind: "secret", required: true });
  });

  it("a password widget without x-secret stays a (masked) string stored in the flow", () => {
    expect(byKey("masked")).toMatchObject({ kind: "string", password: true });
    expect(byKey("dsn")).toMatchObject({ kind: "string", password: false });
  });

  it("write a reference into the config, never a value", () => {
    const config = setIn({ dsn: "postgresql://db/shop" }, "password", secretRef("pg-password"));
    expect(config).toEqual({ dsn: "postgresql://db/shop", password: { secret: "pg-password" } });
    expect(JSON.stringify(config)).not.toContain("hunter2");
  });
});

describe("what a secret field holds", () => {
  it("a reference, nothing, a clear value or something else", () => {
    expect(readSecretField({ secret: "pg" })).toEqual({ kind: "ref", name: "pg" });
    expect(readSecretField(undefined)).toEqual({ kind: "unset" });
    expect(readSecretField(null)).toEqual({ kind: "unset" });
    expect(readSecretField("")).toEqual({ kind: "unset" });
    expect(readSecretField("hunter2")).toEqual({ kind: "clear" });
    expect(readSecretField(42)).toEqual({ kind: "invalid", value: 42 });
    expect(readSecretField({ secret: "pg", extra: 1 })).toEqual({ kind: "invalid", value: { secret: "pg", extra: 1 } });
  });

  it("recognises exactly the server's reference shape", () => {
    expect(isSecretRef({ secret: "a" })).toBe(true);
    expect(isSecretRef({ secret: 1 })).toBe(false);
    expect(isSecretRef({ name: "a" })).toBe(false);
    expect(isSecretRef(["a"])).toBe(false);
    expect(isSecretRef(null)).toBe(false);
  });
});

describe("the names the picker offers", () => {
  it("sorted, with a referenced name the server lacks kept and flagged", () => {
    expect(secretOptions(["redis", "kafka"], { kind: "unset" })).toEqual([
      { name: "kafka", missing: false },
      { name: "redis", missing: false },
    ]);
    expect(secretOptions(["redis"], { kind: "ref", name: "gone" })).toEqual([
      { name: "gone", missing: true },
      { name: "redis", missing: false },
    ]);
    expect(secretOptions(["redis"], { kind: "ref", name: "redis" })).toEqual([{ name: "redis", missing: false }]);
  });

  it("does not call a reference missing before the list has loaded", () => {
    expect(secretOptions(null, { kind: "ref", name: "pg" })).toEqual([{ name: "pg", missing: false }]);
    expect(secretOptions(null, { kind: "unset" })).toEqual([]);
  });
});

describe("creating a secret", () => {
  it("checks the name against the server's pattern and needs a value", () => {
    expect(checkNewSecret("pg-password", "s3cret", [])).toEqual({ nameError: null, valueError: null, replaces: false, ok: true });
    expect(checkNewSecret("", "x", []).nameError).toMatch(/needs a name/);
    expect(checkNewSecret("-pg", "x", []).nameError).toMatch(/starting with a letter or digit/);
    expect(checkNewSecret("pg password", "x", []).ok).toBe(false);
    expect(checkNewSecret("a".repeat(129), "x", []).nameError).toMatch(/128/);
    expect(checkNewSecret("a".repeat(128), "x", []).ok).toBe(true);
    expect(checkNewSecret("pg", "", []).valueError).toMatch(/value/);
    expect(checkNewSecret("pg", "x".repeat(65537), []).valueError).toMatch(/65536/);
  });

  it("says when it replaces an existing secret", () => {
    expect(checkNewSecret("pg", "x", ["pg"])).toMatchObject({ replaces: true, ok: true });
    expect(checkNewSecret("pg", "x", null)).toMatchObject({ replaces: false, ok: true });
  });

  it("suggests a free, valid name from the node and the field", () => {
    expect(suggestSecretName("postgres_query-1", "password", [])).toBe("postgres_query-1-password");
    expect(suggestSecretName("pg", "password", ["pg-password", "pg-password-2"])).toBe("pg-password-3");
    expect(suggestSecretName("_x y", "sasl_password", null)).toBe("x-y-sasl_password");
  });
});
