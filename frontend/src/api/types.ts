/**
 * Wire types of the DataFlow HTTP + WebSocket API (snake_case, as on the wire).
 *
 * Written by hand from the HTTP contract for now. Each exported name matches the
 * backend's msgspec struct name, so this file can be replaced by types generated from
 * the OpenAPI document once the backend publishes it, e.g.
 *   npx openapi-typescript http://127.0.0.1:8080/schema/openapi.json -o src/api/schema.gen.ts
 * and then re-exported here as `export type Flow = components["schemas"]["Flow"]` ...
 * Keep this module free of logic: only types and constants mirroring the server.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/* ----------------------------------------------------------------- flow document */

export type Position = {
  x: number;
  y: number;
};

export type FlowNode = {
  id: string;
  type: string;
  name: string;
  config: JsonObject;
  position: Position;
};

export type EdgeSettings = {
  max_batches: number;
  max_bytes: number;
};

export type FlowEdge = {
  id: string;
  source: string;
  source_port: string;
  target: string;
  target_port: string;
  settings: EdgeSettings;
};

export type Delivery = "at_least_once" | "exactly_once";

/** How the flow runs (backend `FlowSettings`). */
export type FlowSettings = {
  delivery: Delivery;
  /** Seconds between checkpoints: > 0 and <= 3600. */
  checkpoint_interval_seconds: number;
};

/**
 * The flow document. The server may send top-level fields this type does not list yet
 * (a newer format): the editor keeps them as they came (every Flow -> Flow function
 * spreads the document it was given), so saving never drops what it does not know.
 */
export type Flow = {
  id: string;
  name: string;
  description: string;
  format_version: number;
  nodes: FlowNode[];
  edges: FlowEdge[];
  settings: FlowSettings;
};

export const FORMAT_VERSION = 2;
export const DEFAULT_EDGE_SETTINGS: EdgeSettings = { max_batches: 64, max_bytes: 64 * 1024 * 1024 };
export const DEFAULT_FLOW_SETTINGS: FlowSettings = { delivery: "at_least_once", checkpoint_interval_seconds: 5 };
/** Bounds of `settings.checkpoint_interval_seconds` (exclusive minimum, inclusive maximum). */
export const CHECKPOINT_INTERVAL_BOUNDS = { exclusiveMinimum: 0, maximum: 3600 } as const;
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/* ------------------------------------------------------------------------ errors */

export interface ErrorDetail {
  path: string;
  code: string;
  message: string;
  node_id?: string | null;
  edge_id?: string | null;
}

/** Every non-2xx response body. */
export interface ErrorBody {
  status: number;
  title: string;
  detail: string;
  errors: ErrorDetail[];
}

export interface Conflict {
  path: string;
  kind: string;
  node_id?: string | null;
  edge_id?: string | null;
  base: JsonValue | undefined;
  current: JsonValue | undefined;
  saved: JsonValue | undefined;
}

/** 409 body of PUT /flows/{id}. */
export interface ConflictBody extends ErrorBody {
  current_version: number;
  conflicts: Conflict[];
}

/* -------------------------------------------------------------------- processors */

export type Category = "source" | "transform" | "sink";

/** A JSON Schema as msgspec emits it (draft 2020-12 subset). */
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

/* ----------------------------------------------------------------------- secrets */

/** GET /secrets: names and times only; values never come back. */
export interface SecretInfo {
  name: string;
  created_at: number;
  updated_at: number;
}

export interface ProcessorInfo {
  type: string;
  category: Category;
  title: string;
  description: string;
  summary: string;
  status: string;
  icon: string;
  inputs: string[];
  outputs: string[];
  failure_port: string;
  config_schema: JsonSchema;
  ui_schema: UiSchema;
  examples: JsonObject[];
}

/* ------------------------------------------------------------------------- flows */

export type RunState =
  | "configured"
  | "starting"
  | "running"
  | "paused"
  | "stopping"
  | "stopped"
  | "failed"
  | "completed";

export interface FlowSummary {
  id: string;
  name: string;
  description: string;
  version: number;
  node_count: number;
  edge_count: number;
  /** Unix seconds (float). */
  created_at: number;
  updated_at: number;
  state: RunState;
}

export interface FlowEnvelope {
  flow: Flow;
  version: number;
  created_at?: number;
  updated_at?: number;
}

export interface SaveFlowRequest {
  flow: Flow;
  expected_version: number;
}

export interface SaveFlowResponse extends FlowEnvelope {
  merged: boolean;
  changed: boolean;
}

export interface VersionInfo {
  version: number;
  recorded_at: number;
  summary: string;
  event_count: number;
  merged: boolean;
}

export interface NodeChange {
  id: string;
  name_changed?: boolean;
  moved?: boolean;
  type_changed?: boolean;
  config_keys_changed?: string[];
  config_changes?: Record<string, { old: JsonValue | undefined; new: JsonValue | undefined }>;
  [extra: string]: unknown;
}

export interface EdgeChange {
  id: string;
  [extra: string]: unknown;
}

export interface FlowDiff {
  nodes_added: FlowNode[];
  nodes_removed: FlowNode[];
  nodes_changed: NodeChange[];
  edges_added: FlowEdge[];
  edges_removed: FlowEdge[];
  edges_changed: EdgeChange[];
  name_changed: boolean;
  description_changed: boolean;
  settings_changed: boolean;
}

export interface FlowEvent {
  flow_version: number | null;
  recorded_at: number;
  type: string;
  payload: JsonValue;
  stream: string;
}

/* -------------------------------------------------------------------- validation */

export interface Issue {
  node_id?: string | null;
  edge_id?: string | null;
  path: string;
  code: string;
  message: string;
  severity: "error" | "warning";
}

export interface Column {
  name: string;
  type: string;
}

export interface ValidationResult {
  valid: boolean;
  errors: Issue[];
  warnings: Issue[];
  /** node_id -> output port -> columns. */
  schemas: Record<string, Record<string, Column[]>>;
}

/* -------------------------------------------------------------------------- runs */

export interface RunInfo {
  run_id: string | null;
  flow_id: string;
  flow_version: number | null;
  state: RunState;
  started_at: number | null;
  updated_at: number | null;
  error: string | null;
  error_node: string | null;
  /** Source offsets of the last checkpoint (server extra). */
  offsets?: Record<string, JsonValue>;
  interrupted?: boolean;
}

/** Per-node numbers. The server also sends the optional fields (rates split in/out, node state). */
export interface NodeMetrics {
  records_in: Record<string, number>;
  records_out: Record<string, number>;
  batches_in: number;
  batches_out: number;
  bytes_in: number;
  bytes_out: number;
  errors: number;
  busy_seconds: number;
  /** Contract field; the server sends the split rates below (see `nodeRate`). */
  records_per_second?: number;
  records_in_per_second?: number;
  records_out_per_second?: number;
  last_error: string | null;
  type?: string;
  /** pending, running, finished, failed or cancelled. */
  state?: string;
  retries?: number;
  /** Records emitted on an output port that has no edge. */
  discarded_records?: number;
}

export interface EdgeMetrics {
  queued_batches: number;
  queued_bytes: number;
  fill_ratio: number;
  backpressure_seconds: number;
  records: number;
  batches: number;
  max_batches: number;
  max_bytes: number;
  bytes?: number;
}

export interface FlowMetrics {
  run_id: string | null;
  flow_id?: string;
  state: RunState;
  elapsed: number;
  nodes: Record<string, NodeMetrics>;
  edges: Record<string, EdgeMetrics>;
}

export type SocketMessage =
  | { type: "metrics"; metrics: FlowMetrics }
  | { type: "state"; run: RunInfo }
  | { type: "error"; node_id: string | null; message: string };

export interface SampleResult {
  columns: Column[];
  rows: Record<string, JsonValue>[];
}
