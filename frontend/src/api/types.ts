/**
 * Wire types of the DataFlow HTTP + WebSocket API (snake_case, as on the wire).
 *
 * The shapes come from `schema.gen.ts`, generated from the server's OpenAPI document
 * (`npm run gen:api`, i.e. scripts/gen-api-types.sh; a backend test fails when it is stale).
 * This module only names them for the editor, narrows what the server types as "any JSON"
 * (configs, JSON Schemas) and holds the few types that exist only in the editor.
 */

import type { components } from "./schema.gen";

type Schemas = components["schemas"];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/* ----------------------------------------------------------------- flow document */

export type Position = Schemas["Position"];
/** A node; its `config` is the processor's (any JSON object, checked against the catalog's schema). */
export type FlowNode = Omit<Schemas["Node"], "config"> & { config: JsonObject };
export type EdgeSettings = Schemas["EdgeSettings"];
export type FlowEdge = Schemas["Edge"];
export type FlowSettings = Schemas["FlowSettings"];
export type Delivery = FlowSettings["delivery"];

/**
 * The flow document. The server may send top-level fields this type does not list yet
 * (a newer format): the editor keeps them as they came (every Flow -> Flow function
 * spreads the document it was given), so saving never drops what it does not know.
 */
export type Flow = Omit<Schemas["Flow"], "nodes"> & { nodes: FlowNode[] };

/** The served JSON Schema of the flow document (GET /api/v1/schema/flow.json). */
export type FlowSchema = Omit<Schemas["FlowSchema"], "$defs"> & { $defs: Record<string, JsonSchema> };

/* Editor defaults for what it creates (a new flow, a new edge): the server's defaults. */
export const FORMAT_VERSION = 2;
export const DEFAULT_EDGE_SETTINGS: EdgeSettings = { max_batches: 64, max_bytes: 64 * 1024 * 1024 };
export const DEFAULT_FLOW_SETTINGS: FlowSettings = { delivery: "at_least_once", checkpoint_interval_seconds: 5 };
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/* ------------------------------------------------------------------------ errors */

/** Every non-2xx response body. */
export type ErrorBody = Schemas["Problem"];
/** A merge conflict; `base`/`current`/`saved` are left out where the thing did not exist. */
export type Conflict = Omit<Schemas["Conflict"], "base" | "current" | "saved"> & { base?: JsonValue; current?: JsonValue; saved?: JsonValue };
/** 409 body of PUT /flows/{id}. */
export type ConflictBody = Omit<ErrorBody, "current_version" | "conflicts"> & { current_version: number; conflicts: Conflict[] };

/** One entry of an error body's `errors[]`, as the client normalises it. */
export interface ErrorDetail {
  path: string;
  code: string;
  message: string;
  node_id?: string | null | undefined;
  edge_id?: string | null | undefined;
}

/* -------------------------------------------------------------------- processors */

export type Category = Schemas["ProcessorInfo"]["category"];

/** A JSON Schema as msgspec emits it (draft 2020-12 subset): what the forms are built from. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: JsonValue;
  enum?: JsonValue[];
  const?: JsonValue;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  prefixItems?: JsonSchema[];
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  discriminator?: { propertyName: string; mapping?: Record<string, string> };
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  examples?: JsonValue[];
  /** Form hints may also ride inline (nested structs keep them in the schema). */
  "ui:widget"?: string;
  "ui:placeholder"?: string;
  "x-advanced"?: boolean;
  "x-secret"?: boolean;
  [extra: string]: unknown;
}

export interface UiHints {
  "ui:widget"?: "sql" | "python" | "template" | "password" | "textarea" | string;
  "ui:placeholder"?: string;
  "x-advanced"?: boolean;
  "x-secret"?: boolean;
  [extra: string]: unknown;
}

export type UiSchema = Record<string, UiHints>;

export type ProcessorInfo = Omit<Schemas["ProcessorInfo"], "config_schema" | "ui_schema" | "examples"> & {
  config_schema: JsonSchema;
  ui_schema: UiSchema;
  examples: JsonObject[];
};

/* ----------------------------------------------------------------------- secrets */

/** GET /secrets: names and times only; values never come back. */
export type SecretInfo = Schemas["SecretInfo"];

/* ------------------------------------------------------------------------- flows */

export type RunInfo = Schemas["RunStatus"];
export type RunState = RunInfo["state"];

export type FlowSummary = Schemas["FlowListItem"];
export type FlowEnvelope = Omit<Schemas["FlowEnvelope"], "flow"> & { flow: Flow };
export type SaveFlowResponse = Omit<Schemas["SavedFlow"], "flow"> & { flow: Flow };
export type VersionInfo = Schemas["VersionInfo"];
export type NodeChange = Omit<Schemas["NodeChange"], "config_changes"> & { config_changes: Record<string, { old?: JsonValue; new?: JsonValue }> };
export type EdgeChange = Schemas["EdgeChange"];
export type FlowDiff = Omit<Schemas["FlowDiff"], "nodes_added" | "nodes_removed" | "nodes_changed"> & {
  nodes_added: FlowNode[];
  nodes_removed: FlowNode[];
  nodes_changed: NodeChange[];
};
export type FlowEvent = Schemas["HistoryEntry"];

/* -------------------------------------------------------------------- validation */

/** A validation issue; the editor always knows its severity (the server omits the default, "error"). */
export type Issue = Schemas["Issue"] & { severity: NonNullable<Schemas["Issue"]["severity"]> };
export type Column = Schemas["Column"];
/** The ports a node has for its config, as the last validation report gave them. */
export type DeclaredPorts = Schemas["NodePorts"];
export type ValidationResult = Schemas["ValidationReport"];

/* -------------------------------------------------------------------------- runs */

export type NodeMetrics = Schemas["NodeMetrics"];
export type EdgeMetrics = Schemas["EdgeMetrics"];
export type FlowMetrics = Schemas["FlowMetrics"];
/** A message of the live view's WebSocket (tagged by `type`). */
export type SocketMessage = Schemas["AnyLiveMessage"];
export type SampleResult = Omit<Schemas["SampleResult"], "rows"> & { rows: Record<string, JsonValue>[] };

/* -------------------------------------------------------------- who is signed in */

export type Role = Schemas["UserInfo"]["role"];
/** GET /auth/me: the signed-in user; `csrf_token` goes in X-CSRF-Token on unsafe calls. */
export type Me = Schemas["Me"];
export type LoginResult = Schemas["LoginResult"];
export type SignInOptions = Schemas["SignInOptions"];
export type UserInfo = Schemas["UserInfo"];
export type TokenInfo = Schemas["TokenInfo"];
/** A new API token: `token` is its value, in this answer only. */
export type IssuedToken = Schemas["IssuedToken"];
export type NewToken = Schemas["NewToken"];
export type LoginFailure = Schemas["LoginFailure"];
