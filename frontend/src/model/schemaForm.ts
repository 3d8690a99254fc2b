/**
 * JSON Schema (as msgspec emits it) + ui-schema hints -> a field model the inspector renders.
 *
 * Pure: no React here. Field paths are dotted paths inside the node config
 * (`condition`, `columns.0.name`), the same keys the validation errors map to.
 */

import type { JsonSchema, JsonValue, UiHints, UiSchema } from "../api/types";

export type CodeLanguage = "sql" | "python" | "template";

interface FieldBase {
  /** Property name, or the item index for array items. */
  key: string;
  /** Dotted path inside the config. */
  path: string;
  title: string;
  description?: string;
  required: boolean;
  /** `null` is an accepted value (Optional[...] in the processor config). */
  nullable: boolean;
  default?: JsonValue;
  placeholder?: string;
  advanced: boolean;
  schema: JsonSchema;
}

export interface StringField extends FieldBase {
  kind: "string";
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  multiline: boolean;
  /** Typed characters are masked (`ui:widget: password`); the value is still stored. */
  password: boolean;
}
/** `x-secret`: holds a reference `{"secret": NAME}` to a named secret, never the value. */
export interface SecretField extends FieldBase {
  kind: "secret";
}
export interface CodeField extends FieldBase {
  kind: "code";
  language: CodeLanguage;
}
export interface NumberField extends FieldBase {
  kind: "number" | "integer";
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  step: number | "any";
}
export interface BooleanField extends FieldBase {
  kind: "boolean";
}
export interface EnumOption {
  value: JsonValue;
  label: string;
}
export interface EnumField extends FieldBase {
  kind: "enum";
  options: EnumOption[];
}
export interface ArrayField extends FieldBase {
  kind: "array";
  /** Schema of one item (resolved); build its field with `itemField`. */
  items: JsonSchema;
  minItems?: number;
  maxItems?: number;
  /** Items are objects: each renders as a nested sub-form. */
  itemsAreObjects: boolean;
}
export interface ObjectField extends FieldBase {
  kind: "object";
  fields: FieldModel[];
}
export interface MapField extends FieldBase {
  kind: "map";
  values: JsonSchema;
}
export interface UnionVariant {
  label: string;
  schema: JsonSchema;
  /** For tagged unions: the tag property's value that selects this variant. */
  tag?: JsonValue;
  /** For untagged unions: the JSON type this variant accepts. */
  jsonType?: string;
}
export interface UnionField extends FieldBase {
  kind: "union";
  /** Tag property (discriminator) when the union is tagged. */
  discriminator?: string;
  variants: UnionVariant[];
}
/** Anything the form cannot model: edited as raw JSON. */
export interface JsonField extends FieldBase {
  kind: "json";
}

export type FieldModel =
  | StringField
  | SecretField
  | CodeField
  | NumberField
  | BooleanField
  | EnumField
  | ArrayField
  | ObjectField
  | MapField
  | UnionField
  | JsonField;

export interface FormContext {
  /** The root config schema: `$ref`s point into its `$defs`. */
  root: JsonSchema;
  /** Top-level hints from the catalog's ui_schema (nested ones ride inline in the schema). */
  ui: UiSchema;
}

const MAX_DEPTH = 12;

export function humanize(key: string): string {
  const s = key.replace(/[_-]+/g, " ").trim();
  return s ? s[0]!.toUpperCase() + s.slice(1) : key;
}

export function refName(ref: string): string {
  return decodeURIComponent(ref.split("/").pop() ?? ref);
}

/** Follow `$ref` (and single-element `allOf`) into `$defs`; sibling keys override the target's. */
export function resolveSchema(schema: JsonSchema, root: JsonSchema, depth = 0): JsonSchema {
  if (depth > MAX_DEPTH) return schema;
  if (schema.$ref) {
    const { $ref, ...rest } = schema;
    const target = lookupRef($ref, root);
    if (!target) return rest;
    const resolved = resolveSchema(target, root, depth + 1);
    return { ...resolved, ...rest, title: rest.title ?? resolved.title ?? refName($ref) };
  }
  if (schema.allOf && schema.allOf.length > 0) {
    const { allOf, ...rest } = schema;
    let merged: JsonSchema = {};
    for (const part of allOf) {
      const r = resolveSchema(part, root, depth + 1);
      merged = {
        ...merged,
        ...r,
        properties: { ...(merged.properties ?? {}), ...(r.properties ?? {}) },
        required: [...(merged.required ?? []), ...(r.required ?? [])],
      };
    }
    if (Object.keys(merged.properties ?? {}).length === 0) delete merged.properties;
    if ((merged.required ?? []).length === 0) delete merged.required;
    return { ...merged, ...rest };
  }
  return schema;
}

function lookupRef(ref: string, root: JsonSchema): JsonSchema | undefined {
  if (!ref.startsWith("#/")) return undefined;
  let cur: unknown = root;
  for (const raw of ref.slice(2).split("/")) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[decodeURIComponent(part)];
  }
  return typeof cur === "object" && cur !== null ? (cur as JsonSchema) : undefined;
}

function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  if (typeof schema.type === "string") return [schema.type];
  return [];
}

function isNullSchema(s: JsonSchema): boolean {
  const t = typesOf(s);
  return (t.length === 1 && t[0] === "null") || (s.const === null && t.length === 0) || (Array.isArray(s.enum) && s.enum.length === 1 && s.enum[0] === null);
}

function hintsOf(schema: JsonSchema): UiHints {
  const out: UiHints = {};
  for (const [k, v] of Object.entries(schema)) if (k.startsWith("ui:") || k.startsWith("x-")) out[k] = v;
  return out;
}

function widgetLanguage(widget: unknown): CodeLanguage | null {
  if (widget === "sql" || widget === "python" || widget === "template") return widget;
  if (widget === "jinja" || widget === "jinja2") return "template";
  return null;
}

function variantLabel(s: JsonSchema, raw: JsonSchema, tag: JsonValue | undefined, index: number): string {
  if (raw.$ref) return s.title && s.title !== refName(raw.$ref) ? s.title : tag !== undefined ? String(tag) : refName(raw.$ref);
  if (s.title) return s.title;
  if (tag !== undefined) return String(tag);
  const t = typesOf(s);
  if (t.length) return t.join(" | ");
  if (s.enum) return s.enum.map(String).join(" | ");
  return `Option ${index + 1}`;
}

function tagOf(variant: JsonSchema, prop: string): JsonValue | undefined {
  const p = variant.properties?.[prop];
  if (!p) return undefined;
  if (p.const !== undefined) return p.const;
  if (Array.isArray(p.enum) && p.enum.length === 1) return p.enum[0];
  return p.default;
}

/** Find a discriminator for an anyOf/oneOf of objects: explicit, or a property with a distinct const in each. */
function findDiscriminator(variants: JsonSchema[], declared?: string): string | undefined {
  if (declared) return declared;
  if (!variants.every((v) => v.properties)) return undefined;
  const first = variants[0];
  if (!first?.properties) return undefined;
  for (const prop of Object.keys(first.properties)) {
    const tags = variants.map((v) => tagOf(v, prop));
    if (tags.every((t) => t !== undefined) && new Set(tags.map((t) => JSON.stringify(t))).size === tags.length) return prop;
  }
  return undefined;
}

export interface BuildOptions {
  required?: boolean;
  /** Hints from the ui-schema for this key (top level only). */
  hints?: UiHints;
  /** Property names not to render (the tag of a tagged-union variant). */
  omit?: ReadonlySet<string>;
}

export function joinPath(parent: string, key: string | number): string {
  return parent ? `${parent}.${key}` : String(key);
}

/** Build the field model of one property (or array item) from its schema. */
export function buildField(rawSchema: JsonSchema, ctx: FormContext, key: string, path: string, opts: BuildOptions = {}, depth = 0): FieldModel {
  const inlineHints = hintsOf(rawSchema);
  let schema = resolveSchema(rawSchema, ctx.root);
  const hints: UiHints = { ...hintsOf(schema), ...inlineHints, ...(opts.hints ?? {}) };
  let nullable = false;

  // Optional[X]: anyOf [X, null] -> X, nullable.
  const alternatives = schema.anyOf ?? schema.oneOf;

  // A secret is a reference to a named secret whatever type the schema gives the value.
  if (hints["x-secret"] === true) {
    const types = typesOf(schema);
    nullable = types.includes("null") || !!alternatives?.some((s) => isNullSchema(resolveSchema(s, ctx.root)));
    return { ...baseOf(schema, key, path, opts, hints, nullable), kind: "secret" };
  }
  if (alternatives) {
    const nonNull = alternatives.filter((s) => !isNullSchema(resolveSchema(s, ctx.root)));
    if (nonNull.length < alternatives.length) nullable = true;
    if (nonNull.length === 1) {
      const { anyOf: _a, oneOf: _o, ...outer } = schema;
      const inner = resolveSchema(nonNull[0] as JsonSchema, ctx.root);
      schema = { ...inner, ...outer, title: outer.title ?? inner.title, description: outer.description ?? inner.description };
      Object.assign(hints, { ...hintsOf(inner), ...inlineHints, ...(opts.hints ?? {}) });
    } else if (nonNull.length > 1 && nonNull.every((s) => { const r = resolveSchema(s, ctx.root); return r.const !== undefined || (Array.isArray(r.enum) && typesOf(r).length <= 1 && !r.properties); })) {
      // Union of literals: one select.
      const values = nonNull.flatMap((s) => { const r = resolveSchema(s, ctx.root); return r.const !== undefined ? [r.const] : (r.enum ?? []); });
      const { anyOf: _a, oneOf: _o, ...outer } = schema;
      schema = { ...outer, enum: values };
    } else if (nonNull.length > 1) {
      const resolved = nonNull.map((s) => resolveSchema(s, ctx.root));
      const disc = findDiscriminator(resolved, schema.discriminator?.propertyName);
      const base = baseOf(schema, key, path, opts, hints, nullable);
      return {
        ...base,
        kind: "union",
        discriminator: disc,
        variants: resolved.map((r, i) => {
          const tag = disc ? tagOf(r, disc) : undefined;
          const t = typesOf(r);
          const v: UnionVariant = { label: variantLabel(r, nonNull[i] as JsonSchema, tag, i), schema: r };
          if (tag !== undefined) v.tag = tag;
          if (!disc) v.jsonType = r.properties ? "object" : r.enum ? "enum" : (t[0] ?? "any");
          return v;
        }),
      };
    }
  }

  let types = typesOf(schema);
  if (types.includes("null")) {
    nullable = true;
    types = types.filter((t) => t !== "null");
  }
  const base = baseOf(schema, key, path, opts, hints, nullable);

  if (Array.isArray(schema.enum)) {
    const values = schema.enum.filter((v) => v !== null);
    if (values.length < schema.enum.length) base.nullable = true;
    return { ...base, kind: "enum", options: values.map((v) => ({ value: v, label: String(v) })) };
  }
  if (schema.const !== undefined) return { ...base, kind: "enum", options: [{ value: schema.const, label: String(schema.const) }] };

  const type = types.length === 1 ? types[0] : types.length === 0 && schema.properties ? "object" : undefined;
  switch (type) {
    case "string": {
      const widget = hints["ui:widget"];
      const lang = widgetLanguage(widget);
      if (lang) return { ...base, kind: "code", language: lang };
      const f: StringField = {
        ...base,
        kind: "string",
        multiline: widget === "textarea" || (schema.maxLength ?? 0) > 500,
        password: widget === "password" || schema.format === "password",
      };
      if (schema.minLength !== undefined) f.minLength = schema.minLength;
      if (schema.maxLength !== undefined) f.maxLength = schema.maxLength;
      if (schema.pattern !== undefined) f.pattern = schema.pattern;
      if (schema.format !== undefined) f.format = schema.format;
      return f;
    }
    case "integer":
    case "number": {
      const f: NumberField = { ...base, kind: type, step: type === "integer" ? 1 : "any" };
      if (schema.minimum !== undefined) f.minimum = schema.minimum;
      if (schema.maximum !== undefined) f.maximum = schema.maximum;
      if (schema.exclusiveMinimum !== undefined) f.exclusiveMinimum = schema.exclusiveMinimum;
      if (schema.exclusiveMaximum !== undefined) f.exclusiveMaximum = schema.exclusiveMaximum;
      if (typeof schema.multipleOf === "number" && type === "number") f.step = schema.multipleOf;
      return f;
    }
    case "boolean":
      return { ...base, kind: "boolean" };
    case "array": {
      if (!schema.items || schema.prefixItems) return { ...base, kind: "json" };
      const items = resolveSchema(schema.items, ctx.root);
      const f: ArrayField = { ...base, kind: "array", items: schema.items, itemsAreObjects: typesOf(items).includes("object") || !!items.properties || !!(items.anyOf ?? items.oneOf) };
      if (schema.minItems !== undefined) f.minItems = schema.minItems;
      if (schema.maxItems !== undefined) f.maxItems = schema.maxItems;
      return f;
    }
    case "object": {
      if (schema.properties && Object.keys(schema.properties).length > 0) {
        if (depth >= MAX_DEPTH) return { ...base, kind: "json" };
        return { ...base, kind: "object", fields: buildObjectFields(schema, ctx, path, depth + 1, opts.omit) };
      }
      if (schema.additionalProperties && typeof schema.additionalProperties === "object")
        return { ...base, kind: "map", values: schema.additionalProperties };
      return { ...base, kind: "json" };
    }
    default:
      return { ...base, kind: "json" };
  }
}

function baseOf(schema: JsonSchema, key: string, path: string, opts: BuildOptions, hints: UiHints, nullable: boolean): FieldBase {
  const base: FieldBase = {
    key,
    path,
    title: schema.title ?? humanize(key),
    required: opts.required ?? false,
    nullable,
    advanced: hints["x-advanced"] === true,
    schema,
  };
  if (schema.description) base.description = schema.description;
  if (schema.default !== undefined) base.default = schema.default;
  const ph = hints["ui:placeholder"];
  if (typeof ph === "string") base.placeholder = ph;
  return base;
}

/** Fields of an object schema in declaration order (the processor author's order). */
export function buildObjectFields(schema: JsonSchema, ctx: FormContext, parentPath: string, depth = 0, omit?: ReadonlySet<string>): FieldModel[] {
  const s = resolveSchema(schema, ctx.root);
  const required = new Set(s.required ?? []);
  const isRoot = parentPath === "";
  return Object.entries(s.properties ?? {})
    .filter(([k]) => !omit?.has(k))
    .map(([k, prop]) => {
      const opts: BuildOptions = { required: required.has(k) };
      if (isRoot && ctx.ui[k]) opts.hints = ctx.ui[k];
      return buildField(prop, ctx, k, joinPath(parentPath, k), opts, depth);
    });
}

/** The field model of a node config: the root object's fields. */
export function buildConfigForm(configSchema: JsonSchema | undefined, uiSchema: UiSchema | undefined): FieldModel[] {
  if (!configSchema) return [];
  const ctx: FormContext = { root: configSchema, ui: uiSchema ?? {} };
  return buildObjectFields(configSchema, ctx, "");
}

/** The field of item `index` of an array field. */
export function itemField(array: ArrayField, ctx: FormContext, index: number): FieldModel {
  const f = buildField(array.items, ctx, String(index), joinPath(array.path, index), { required: true });
  const singular = /[^s]s$/.test(array.title) ? array.title.slice(0, -1) : array.title;
  return { ...f, title: f.kind === "object" || f.kind === "union" ? `${singular} ${index + 1}` : f.title };
}

/** The variant of a union a value belongs to (-1 if none matches). */
export function matchVariant(field: UnionField, value: JsonValue | undefined): number {
  if (value === undefined || value === null) return -1;
  if (field.discriminator) {
    if (typeof value !== "object" || Array.isArray(value)) return -1;
    const tag = value[field.discriminator];
    return field.variants.findIndex((v) => JSON.stringify(v.tag) === JSON.stringify(tag));
  }
  const t = Array.isArray(value) ? "array" : typeof value === "object" ? "object" : typeof value === "number" ? (Number.isInteger(value) ? "integer" : "number") : typeof value;
  let i = field.variants.findIndex((v) => v.jsonType === t);
  if (i < 0 && t === "integer") i = field.variants.findIndex((v) => v.jsonType === "number");
  if (i < 0) i = field.variants.findIndex((v) => v.jsonType === "enum" && (v.schema.enum ?? []).some((e) => e === value));
  return i;
}

/** The value a union takes when the user picks a variant. */
export function variantInitialValue(field: UnionField, index: number, previous?: JsonValue): JsonValue | undefined {
  const v = field.variants[index];
  if (!v) return undefined;
  if (field.discriminator && v.tag !== undefined) {
    // Keep what the new variant also has (a column's `name` survives switching its kind).
    const kept: Record<string, JsonValue> = {};
    if (previous && typeof previous === "object" && !Array.isArray(previous)) {
      for (const [k, val] of Object.entries(previous)) if (k !== field.discriminator && v.schema.properties?.[k]) kept[k] = val;
    }
    return { [field.discriminator]: v.tag, ...kept };
  }
  if (v.jsonType === "object") return {};
  if (v.jsonType === "array") return [];
  if (v.jsonType === "boolean") return false;
  return undefined;
}

/* ----------------------------------------------------------- value access by path */

export function splitPath(path: string): (string | number)[] {
  if (!path) return [];
  return path.split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

export function getIn(obj: JsonValue | undefined, path: string | (string | number)[]): JsonValue | undefined {
  const parts = typeof path === "string" ? splitPath(path) : path;
  let cur: JsonValue | undefined = obj;
  for (const p of parts) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = Array.isArray(cur) ? (typeof p === "number" ? cur[p] : undefined) : (cur as Record<string, JsonValue>)[String(p)];
  }
  return cur;
}

/**
 * Immutable set: returns a new root. `undefined` deletes an object key (so a cleared
 * field falls back to its default instead of writing one).
 */
export function setIn(obj: JsonValue | undefined, path: string | (string | number)[], value: JsonValue | undefined): JsonValue | undefined {
  const parts = typeof path === "string" ? splitPath(path) : path;
  if (parts.length === 0) return value;
  const [head, ...rest] = parts as [string | number, ...(string | number)[]];
  if (typeof head === "number") {
    const arr = Array.isArray(obj) ? [...obj] : [];
    const next = setIn(arr[head], rest, value);
    arr[head] = next === undefined ? null : next;
    for (let i = 0; i < arr.length; i++) if (arr[i] === undefined) arr[i] = null;
    return arr;
  }
  const base = obj !== null && typeof obj === "object" && !Array.isArray(obj) ? obj : {};
  const next = setIn(base[head], rest, value);
  const out: Record<string, JsonValue> = { ...base };
  if (next === undefined) delete out[head];
  else out[head] = next;
  return out;
}

export function removeIndex(obj: JsonValue | undefined, arrayPath: string, index: number): JsonValue | undefined {
  const arr = getIn(obj, arrayPath);
  if (!Array.isArray(arr)) return obj;
  return setIn(obj, arrayPath, arr.filter((_, i) => i !== index));
}

/** A starting value for a new array item (objects start empty: their defaults stay implicit). */
export function newItemValue(field: FieldModel): JsonValue {
  switch (field.kind) {
    case "object":
    case "map":
      return {};
    case "array":
      return [];
    case "boolean":
      return false;
    case "number":
    case "integer":
      return field.default !== undefined && typeof field.default === "number" ? field.default : (field.minimum ?? 0);
    case "enum":
      return field.options[0]?.value ?? "";
    case "union": {
      const v = variantInitialValue(field, 0);
      return v === undefined ? "" : v;
    }
    default:
      return "";
  }
}

/** Split fields for display: the "Advanced" section collapses those marked x-advanced. */
export function partitionAdvanced(fields: readonly FieldModel[]): { basic: FieldModel[]; advanced: FieldModel[] } {
  return { basic: fields.filter((f) => !f.advanced), advanced: fields.filter((f) => f.advanced) };
}

/** What a field shows as placeholder: the ui hint, else its default. */
export function placeholderOf(field: FieldModel): string {
  if (field.placeholder) return field.placeholder;
  if (field.default !== undefined && field.default !== null) return typeof field.default === "object" ? JSON.stringify(field.default) : String(field.default);
  return "";
}

export function boundsText(field: NumberField): string {
  const lo = field.minimum ?? field.exclusiveMinimum;
  const hi = field.maximum ?? field.exclusiveMaximum;
  const loOpen = field.minimum === undefined && field.exclusiveMinimum !== undefined;
  const hiOpen = field.maximum === undefined && field.exclusiveMaximum !== undefined;
  if (lo !== undefined && hi !== undefined) return loOpen || hiOpen ? `${loOpen ? ">" : "≥"} ${lo}, ${hiOpen ? "<" : "≤"} ${hi}` : `${lo} – ${hi}`;
  if (lo !== undefined) return `${loOpen ? ">" : "≥"} ${lo}`;
  if (hi !== undefined) return `${hiOpen ? "<" : "≤"} ${hi}`;
  return "";
}
