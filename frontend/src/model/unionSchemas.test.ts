import { describe, expect, it } from "vitest";
import type { JsonSchema, UiSchema } from "../api/types";
import catalog from "../test/unionSchemas.json";
import { buildConfigForm, buildObjectFields, itemField, matchVariant, variantInitialValue, type ArrayField, type FieldModel, type UnionField } from "./schemaForm";

// The real catalog entries of the processors whose configs are tagged unions
// (tests/processors/test_union_schemas.py keeps this file equal to the catalog).
function form(name: "lookup_join" | "aggregate" | "validate_schema") {
  const entry = catalog[name] as unknown as { schema: JsonSchema; ui: UiSchema };
  const fields = buildConfigForm(entry.schema, entry.ui);
  const byKey = (k: string): FieldModel => fields.find((f) => f.key === k)!;
  return { schema: entry.schema, fields, byKey };
}

function variantFields(schema: JsonSchema, union: UnionField, index: number): FieldModel[] {
  return buildObjectFields(union.variants[index]!.schema, { root: schema, ui: {} }, union.path, 1, new Set([union.discriminator!]));
}

describe("lookup_join: reference by kind", () => {
  const { schema, byKey } = form("lookup_join");
  const reference = byKey("reference") as UnionField;

  it("is a required selector by kind with one variant per source", () => {
    expect(reference.kind).toBe("union");
    expect(reference.required).toBe(true);
    expect(reference.discriminator).toBe("kind");
    expect(reference.variants.map((v) => v.tag)).toEqual(["file", "postgres", "redis"]);
    expect(matchVariant(reference, { kind: "redis", url: "redis://c", key: "c:{id}" })).toBe(2);
  });

  it("shows the chosen kind's fields, nested under reference, with their hints", () => {
    const postgres = variantFields(schema, reference, 1);
    expect(postgres.map((f) => [f.key, f.path, f.kind, f.required])).toEqual([
      ["dsn", "reference.dsn", "string", true],
      ["query", "reference.query", "code", true],
    ]);
    expect(postgres[1]).toMatchObject({ language: "sql" });
    const redis = variantFields(schema, reference, 2);
    expect(redis.map((f) => f.key)).toEqual(["url", "key", "cache_size"]);
    expect(redis[2]).toMatchObject({ kind: "integer", minimum: 0, default: 100000 });
  });

  it("switching kind keeps nothing the new kind lacks; the password stays a top-level secret", () => {
    expect(variantInitialValue(reference, 0, { kind: "postgres", dsn: "x", query: "q" })).toEqual({ kind: "file" });
    expect(byKey("password").kind).toBe("secret");
  });
});

describe("aggregate: mode by kind", () => {
  const { schema, byKey } = form("aggregate");
  const mode = byKey("mode") as UnionField;

  it("defaults to running, and shows each kind's own fields", () => {
    expect(mode.kind).toBe("union");
    expect(mode.required).toBe(false);
    expect(mode.default).toEqual({ kind: "running", emit: "updates" });
    expect(mode.variants.map((v) => v.tag)).toEqual(["running", "tumbling", "sliding"]);
    expect(variantFields(schema, mode, 0).map((f) => f.key)).toEqual(["emit"]);
    expect(variantFields(schema, mode, 2).map((f) => f.key)).toEqual([
      "time_column",
      "window_seconds",
      "max_out_of_orderness_seconds",
      "allowed_lateness_seconds",
      "slide_seconds",
    ]);
  });

  it("tumbling to sliding keeps the window fields", () => {
    const tumbling = { kind: "tumbling", time_column: "t", window_seconds: 60 };
    expect(variantInitialValue(mode, 2, tumbling)).toEqual({ kind: "sliding", time_column: "t", window_seconds: 60 });
  });
});

describe("validate_schema: each declared field by type", () => {
  const { schema, byKey } = form("validate_schema");
  const item = itemField(byKey("fields") as ArrayField, { root: schema, ui: {} }, 0) as UnionField;

  it("an item is a selector by type with only that type's rules", () => {
    expect(item.kind).toBe("union");
    expect(item.discriminator).toBe("type");
    expect(item.variants.map((v) => v.tag)).toEqual(["int64", "double", "string", "bool", "timestamp", "date"]);
    expect(variantFields(schema, item, 2).map((f) => [f.key, f.title])).toEqual([
      ["name", "Name"],
      ["required", "Required"],
      ["min", "Minimum length"],
      ["max", "Maximum length"],
      ["pattern", "Pattern"],
      ["allowed", "Allowed values"],
    ]);
    expect(variantFields(schema, item, 4).map((f) => f.key)).toEqual(["name", "required"]);
  });

  it("changing the type keeps the name and the rules the new type also has", () => {
    expect(variantInitialValue(item, 2, { type: "int64", name: "n", min: 1, required: true })).toEqual({ type: "string", name: "n", min: 1, required: true });
    expect(variantInitialValue(item, 5, { type: "string", name: "d", pattern: "x" })).toEqual({ type: "date", name: "d" });
  });
});
