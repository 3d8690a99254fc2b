// Development-only stand-in for the DataFlow backend, following the HTTP contract the UI is
// built against (frontend/src/api/types.ts). It serves frontend/dist and a rough in-memory
// API + WebSocket so the editor can be looked at before the real server exists.
// Not used by tests or the build. Usage: npm run build && node dev/mock-api.mjs [port]
import { createHash } from "node:crypto";
import { readFileSync, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const PORT = Number(process.argv[2] ?? 8080);
const DIST = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const now = () => Date.now() / 1000;

/* ------------------------------------------------------------------ catalog */
const base = {
  on_error: { title: "On error", description: "fail: stop the run; route: send the batch to the `failure` port with an `error` column; retry: try again with backoff, then fail; drop: discard and count.", enum: ["drop", "fail", "retry", "route"], default: "fail" },
  max_retries: { title: "Retries", type: "integer", minimum: 0, maximum: 100, default: 3 },
  retry_backoff_seconds: { title: "Retry backoff (s)", description: "First wait; doubles each retry.", type: "number", minimum: 0, default: 0.5 },
};
const baseUi = { on_error: { "x-advanced": true }, max_retries: { "x-advanced": true }, retry_backoff_seconds: { "x-advanced": true } };
const proc = (type, category, title, summary, inputs, outputs, props, required, ui, extra = {}) => ({
  type, category, title, summary, description: summary, status: extra.status ?? "stable", icon: extra.icon ?? type,
  inputs, outputs, failure_port: "failure",
  config_schema: { title: `${title}Config`, type: "object", properties: { ...base, ...props }, required, additionalProperties: false, ...(extra.defs ? { $defs: extra.defs } : {}) },
  ui_schema: { ...baseUi, ...ui }, examples: [],
});
const CATALOG = [
  proc("generate", "source", "Generate", "Emit synthetic rows at a fixed rate.", [], ["out"], {
    rows_per_second: { title: "Rows per second", type: "integer", minimum: 1, maximum: 10000000, default: 1000 },
    total_rows: { title: "Total rows", description: "Stop after this many rows (empty: run forever).", anyOf: [{ type: "integer", minimum: 1 }, { type: "null" }], default: null },
    columns: { title: "Columns", type: "array", items: { $ref: "#/$defs/ColumnSpec" } },
  }, ["columns"], {}, { defs: { ColumnSpec: { title: "ColumnSpec", type: "object", properties: { name: { title: "Name", type: "string", minLength: 1 }, type: { enum: ["float64", "int64", "string", "timestamp"], default: "int64" }, expr: { title: "Expression", "ui:widget": "sql", "x-advanced": true, anyOf: [{ type: "string" }, { type: "null" }], default: null } }, required: ["name"] } } }),
  proc("read_file", "source", "Read file", "Read CSV, JSON lines or Parquet files.", [], ["out"], {
    path: { title: "Path", description: "File or glob.", type: "string", minLength: 1 },
    format: { anyOf: [{ $ref: "#/$defs/Csv" }, { $ref: "#/$defs/JsonLines" }, { $ref: "#/$defs/Parquet" }], discriminator: { propertyName: "kind", mapping: { csv: "#/$defs/Csv", jsonl: "#/$defs/JsonLines", parquet: "#/$defs/Parquet" } } },
    batch_size: { title: "Batch size", type: "integer", minimum: 1, maximum: 1000000, default: 65536 },
  }, ["path", "format"], { path: { "ui:placeholder": "/data/orders/*.csv" }, batch_size: { "x-advanced": true } }, { icon: "file", defs: {
    Csv: { title: "Csv", type: "object", properties: { kind: { enum: ["csv"] }, delimiter: { type: "string", default: "," }, header: { type: "boolean", default: true } }, required: ["kind"] },
    JsonLines: { title: "JsonLines", type: "object", properties: { kind: { enum: ["jsonl"] } }, required: ["kind"] },
    Parquet: { title: "Parquet", type: "object", properties: { kind: { enum: ["parquet"] }, columns: { type: "array", items: { type: "string" } } }, required: ["kind"] },
  } }),
  proc("kafka_consume", "source", "Kafka consume", "Consume a Kafka topic as record batches.", [], ["out"], {
    bootstrap_servers: { title: "Bootstrap servers", type: "string" }, topic: { title: "Topic", type: "string" }, group_id: { title: "Group id", type: "string" },
    password: { title: "SASL password", type: "string", default: "" },
  }, ["bootstrap_servers", "topic"], { password: { "x-secret": true, "x-advanced": true }, bootstrap_servers: { "ui:placeholder": "localhost:9092" } }, { status: "beta", icon: "kafka" }),
  proc("filter", "transform", "Filter", "Route rows by a SQL condition.", ["in"], ["matched", "unmatched"], {
    concurrency: { title: "Concurrency", description: "Batches processed at the same time (order is kept).", type: "integer", minimum: 1, maximum: 64, default: 1 },
    condition: { title: "Condition", description: "A DuckDB SQL boolean expression over the input columns.", type: "string", minLength: 1 },
  }, ["condition"], { concurrency: { "x-advanced": true }, condition: { "ui:widget": "sql", "ui:placeholder": "status = 'paid' AND amount > 100" } }),
  proc("sql", "transform", "SQL", "Transform each batch with a DuckDB query over `input`.", ["in"], ["out"], {
    query: { title: "Query", type: "string", minLength: 1 },
  }, ["query"], { query: { "ui:widget": "sql", "ui:placeholder": "SELECT *, amount * 1.2 AS gross FROM input" } }, { icon: "sql" }),
  proc("select", "transform", "Select", "Keep, rename and cast columns.", ["in"], ["out"], {
    columns: { title: "Columns", type: "array", items: { type: "string" }, minItems: 1 },
    rename: { title: "Rename", type: "object", additionalProperties: { type: "string" }, default: {} },
  }, ["columns"], {}, {}),
  proc("route", "transform", "Route", "Send rows to the port of the first matching rule.", ["in"], [], {
    rules: { title: "Rules", type: "array", items: { $ref: "#/$defs/Rule" }, minItems: 1 },
  }, ["rules"], {}, { defs: { Rule: { title: "Rule", type: "object", properties: { port: { title: "Port", type: "string", pattern: "^[a-z][a-z0-9_]{0,31}$" }, condition: { title: "Condition", type: "string", "ui:widget": "sql" } }, required: ["port", "condition"] } } }),
  proc("template", "transform", "Template", "Render a Jinja template per row into a new column.", ["in"], ["out"], {
    template: { title: "Template", type: "string" }, column: { title: "Output column", type: "string", default: "text" },
  }, ["template"], { template: { "ui:widget": "template", "ui:placeholder": "Order {{ order_id }}: {{ amount }}" } }),
  proc("python", "transform", "Python", "Run a Python function on each batch (pyarrow).", ["in"], ["out"], {
    code: { title: "Code", type: "string" },
  }, ["code"], { code: { "ui:widget": "python", "ui:placeholder": "def transform(batch):\n    return batch" } }, { status: "experimental" }),
  proc("join", "transform", "Join", "Join two streams on keys.", ["left", "right"], ["out"], { on: { title: "On", type: "array", items: { type: "string" } } }, ["on"], {}, { status: "beta", icon: "merge" }),
  proc("write_file", "sink", "Write file", "Write batches as Parquet, CSV or JSON lines.", ["in"], [], {
    path: { title: "Path", type: "string" }, format: { enum: ["csv", "jsonl", "parquet"], default: "parquet" }, overwrite: { type: "boolean", default: false },
  }, ["path"], { path: { "ui:placeholder": "/data/out/orders.parquet" } }),
  proc("console", "sink", "Console", "Print batches to the server log.", ["in"], [], { max_rows: { title: "Max rows", type: "integer", minimum: 0, default: 10 } }, [], {}),
];
const byType = new Map(CATALOG.map((p) => [p.type, p]));

/* ------------------------------------------------------------------ state */
const flows = new Map(); // id -> {versions: [doc], created_at, updated_at, run, events: []}
let seq = 0;
const err = (status, title, detail, errors = [], extra = {}) => ({ status, title, detail, errors, ...extra });

function outputsOf(n) {
  const info = byType.get(n.type);
  if (!info) return [];
  let outs = n.type === "route" ? [...new Set((n.config.rules ?? []).map((r) => r?.port).filter(Boolean)), "unmatched"] : [...info.outputs];
  if (n.config.on_error === "route") outs.push("failure");
  return outs;
}

const DEFAULT_SETTINGS = { delivery: "at_least_once", checkpoint_interval_seconds: 5 };
// Sinks that can deliver exactly once (two-phase commit); the others get delivery_unsupported.
const EXACTLY_ONCE_SINKS = new Set(["write_file"]);

function validate(doc) {
  const errors = [], warnings = [], schemas = {};
  if (!doc.name) errors.push({ path: "name", code: "missing", message: "The flow needs a name." });
  const settings = { ...DEFAULT_SETTINGS, ...(doc.settings ?? {}) };
  if (!["at_least_once", "exactly_once"].includes(settings.delivery)) errors.push({ path: "settings.delivery", code: "invalid_document", message: "Invalid enum value" });
  const interval = settings.checkpoint_interval_seconds;
  if (typeof interval !== "number" || !(interval > 0) || interval > 3600) errors.push({ path: "settings.checkpoint_interval_seconds", code: "invalid_document", message: "Expected `float` > 0 and <= 3600" });
  if (settings.delivery === "exactly_once") (doc.nodes ?? []).forEach((n, i) => {
    if (byType.get(n.type)?.category === "sink" && !EXACTLY_ONCE_SINKS.has(n.type)) errors.push({ path: `nodes[${i}]`, node_id: n.id, code: "delivery_unsupported", message: `${n.type} in node '${n.id}' cannot deliver exactly once; use settings.delivery at_least_once or an exactly-once sink` });
  });
  const ids = new Set();
  (doc.nodes ?? []).forEach((n, i) => {
    if (ids.has(n.id)) errors.push({ path: `nodes[${i}].id`, node_id: n.id, code: "duplicate", message: `Duplicate node id ${n.id}` });
    ids.add(n.id);
    const info = byType.get(n.type);
    if (!info) return errors.push({ path: `nodes[${i}].type`, node_id: n.id, code: "unknown_type", message: `Unknown processor type "${n.type}"` });
    for (const r of info.config_schema.required ?? []) {
      const v = n.config?.[r];
      if (v === undefined || v === "" || (Array.isArray(v) && v.length === 0)) errors.push({ path: `nodes[${i}].config.${r}`, node_id: n.id, code: "missing", message: `${info.config_schema.properties[r]?.title ?? r} is required` });
    }
    for (const [k, p] of Object.entries(info.config_schema.properties)) {
      const v = n.config?.[k];
      if (typeof v === "number" && p.maximum !== undefined && v > p.maximum) errors.push({ path: `nodes[${i}].config.${k}`, node_id: n.id, code: "too_large", message: `Expected ≤ ${p.maximum}` });
      if (typeof v === "number" && p.minimum !== undefined && v < p.minimum) errors.push({ path: `nodes[${i}].config.${k}`, node_id: n.id, code: "too_small", message: `Expected ≥ ${p.minimum}` });
    }
    if (typeof n.config?.condition === "string" && /amout/.test(n.config.condition)) errors.push({ path: `nodes[${i}].config.condition`, node_id: n.id, code: "sql", message: `column "amout" does not exist (upstream columns: order_id, amount, status)` });
    if (info.inputs.length && !(doc.edges ?? []).some((e) => e.target === n.id)) warnings.push({ path: `nodes[${i}]`, node_id: n.id, code: "unconnected", message: "No input connected: this node will never receive data." });
    if (info.category !== "sink") schemas[n.id] = Object.fromEntries(outputsOf(n).map((p) => [p, [{ name: "order_id", type: "int64" }, { name: "amount", type: "double" }, { name: "status", type: "string" }]]));
  });
  (doc.edges ?? []).forEach((e, i) => {
    const s = doc.nodes.find((n) => n.id === e.source), t = doc.nodes.find((n) => n.id === e.target);
    if (!s || !t) return errors.push({ path: `edges[${i}]`, edge_id: e.id, code: "dangling", message: "Connection to a missing node" });
    if (!outputsOf(s).includes(e.source_port)) errors.push({ path: `edges[${i}].source_port`, edge_id: e.id, code: "port", message: `${s.id} has no output port "${e.source_port}"` });
  });
  return { valid: errors.length === 0, errors, warnings, schemas };
}

function summaryOf(id) {
  const f = flows.get(id), doc = f.versions.at(-1);
  return { id, name: doc.name, description: doc.description, version: f.versions.length, node_count: doc.nodes.length, edge_count: doc.edges.length, created_at: f.created_at, updated_at: f.updated_at, state: f.run.state };
}
const envelope = (id, n) => { const f = flows.get(id); return { flow: f.versions[(n ?? f.versions.length) - 1], version: n ?? f.versions.length, created_at: f.created_at, updated_at: f.updated_at }; };
function addEvent(id, type, payload, stream = "design") { const f = flows.get(id); f.events.push({ flow_version: f.versions.length, recorded_at: now(), type, payload, stream }); }

function create(doc) {
  let id = doc.id || (doc.name || "flow").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || `flow-${++seq}`;
  while (flows.has(id)) id = `${id}-${++seq}`;
  const d = { ...doc, id, name: doc.name, description: doc.description ?? "", format_version: 1, nodes: doc.nodes ?? [], edges: doc.edges ?? [], settings: { ...DEFAULT_SETTINGS, ...(doc.settings ?? {}) } };
  flows.set(id, { versions: [d], created_at: now(), updated_at: now(), run: { run_id: null, flow_id: id, flow_version: null, state: "configured", started_at: null, updated_at: null, error: null, error_node: null }, events: [], started: 0 });
  addEvent(id, "FlowCreated", { name: d.name });
  return id;
}

function diff(a, b) {
  const am = new Map(a.nodes.map((n) => [n.id, n])), bm = new Map(b.nodes.map((n) => [n.id, n]));
  const ae = new Map(a.edges.map((e) => [e.id, e])), be = new Map(b.edges.map((e) => [e.id, e]));
  const nodes_changed = [];
  for (const [id, n] of bm) {
    const o = am.get(id); if (!o) continue;
    const keys = [...new Set([...Object.keys(o.config), ...Object.keys(n.config)])].filter((k) => JSON.stringify(o.config[k]) !== JSON.stringify(n.config[k]));
    const moved = o.position.x !== n.position.x || o.position.y !== n.position.y;
    if (keys.length || moved || o.name !== n.name) nodes_changed.push({ id, name_changed: o.name !== n.name, moved, type_changed: o.type !== n.type, config_keys_changed: keys, config_changes: Object.fromEntries(keys.map((k) => [k, { old: o.config[k] ?? null, new: n.config[k] ?? null }])) });
  }
  return {
    nodes_added: b.nodes.filter((n) => !am.has(n.id)), nodes_removed: a.nodes.filter((n) => !bm.has(n.id)), nodes_changed,
    edges_added: b.edges.filter((e) => !ae.has(e.id)), edges_removed: a.edges.filter((e) => !be.has(e.id)),
    edges_changed: b.edges.filter((e) => ae.has(e.id) && JSON.stringify(ae.get(e.id).settings) !== JSON.stringify(e.settings)).map((e) => ({ id: e.id, settings: Object.fromEntries(Object.keys(e.settings).filter((k) => ae.get(e.id).settings[k] !== e.settings[k]).map((k) => [k, { old: ae.get(e.id).settings[k], new: e.settings[k] }])) })),
    name_changed: a.name !== b.name, description_changed: a.description !== b.description,
    settings_changed: JSON.stringify({ ...DEFAULT_SETTINGS, ...(a.settings ?? {}) }) !== JSON.stringify({ ...DEFAULT_SETTINGS, ...(b.settings ?? {}) }),
  };
}

function metrics(id) {
  const f = flows.get(id), doc = f.versions.at(-1), t = f.run.state === "running" ? now() - f.started : f.elapsed ?? 0;
  const nodes = {}, edges = {};
  doc.nodes.forEach((n, i) => {
    const info = byType.get(n.type), rate = 4000 / (1 + (i % 3));
    const ins = info?.inputs ?? [], outs = outputsOf(n);
    nodes[n.id] = { records_in: Object.fromEntries(ins.map((p) => [p, Math.round(t * rate)])), records_out: Object.fromEntries(outs.map((p, k) => [p, Math.round((t * rate) / (k + 1))])), batches_in: Math.round(t * 4), batches_out: Math.round(t * 4), bytes_in: Math.round(t * rate * 40), bytes_out: Math.round(t * rate * 38), errors: n.config.condition?.includes?.("fail") ? 3 : 0, busy_seconds: t * 0.3, records_per_second: f.run.state === "running" ? rate : 0, last_error: null };
  });
  doc.edges.forEach((e, i) => {
    const ratio = Math.min(1, Math.abs(Math.sin(t / 5 + i)) * (i % 2 ? 1 : 0.4));
    edges[e.id] = { queued_batches: Math.round(ratio * e.settings.max_batches), queued_bytes: Math.round(ratio * 1e6), fill_ratio: ratio, backpressure_seconds: t * ratio * 0.1, records: Math.round(t * 3000), batches: Math.round(t * 3), max_batches: e.settings.max_batches, max_bytes: e.settings.max_bytes };
  });
  return { run_id: f.run.run_id, state: f.run.state, elapsed: t, nodes, edges };
}

/* ------------------------------------------------------------------ seed */
const seedId = create({ name: "Orders to warehouse", description: "Paid orders into parquet", nodes: [
  { id: "read_file-1", type: "read_file", name: "Orders CSV", config: { path: "/data/orders/*.csv", format: { kind: "csv" } }, position: { x: 0, y: 80 } },
  { id: "filter-1", type: "filter", name: "Paid > 100", config: { condition: "status = 'paid' AND amout > 100", on_error: "route" }, position: { x: 300, y: 40 } },
  { id: "sql-1", type: "sql", name: "Add tax", config: { query: "SELECT *, amount * 1.2 AS gross FROM input" }, position: { x: 600, y: 0 } },
  { id: "write_file-1", type: "write_file", name: "Warehouse", config: { path: "/data/out/paid.parquet" }, position: { x: 900, y: 0 } },
  { id: "console-1", type: "console", name: "Rejected", config: {}, position: { x: 600, y: 200 } },
  { id: "route-1", type: "route", name: "By region", config: { rules: [{ port: "eu", condition: "region = 'EU'" }, { port: "us", condition: "region = 'US'" }] }, position: { x: 900, y: 200 } },
], edges: [
  { id: "e-1a2b", source: "read_file-1", source_port: "out", target: "filter-1", target_port: "in", settings: { max_batches: 64, max_bytes: 67108864 } },
  { id: "e-3c4d", source: "filter-1", source_port: "matched", target: "sql-1", target_port: "in", settings: { max_batches: 64, max_bytes: 67108864 } },
  { id: "e-5e6f", source: "sql-1", source_port: "out", target: "write_file-1", target_port: "in", settings: { max_batches: 16, max_bytes: 67108864 } },
  { id: "e-7a8b", source: "filter-1", source_port: "unmatched", target: "console-1", target_port: "in", settings: { max_batches: 64, max_bytes: 67108864 } },
] });
create({ name: "Kafka events", nodes: [], edges: [] });
if (process.env.MOCK_BIG) {
  const nodes = [], edges = [];
  for (let i = 0; i < 300; i++) nodes.push({ id: `filter-${i + 1}`, type: i % 30 === 0 ? "generate" : "filter", name: `Step ${i + 1}`, config: { condition: "a > 1", columns: [{ name: "a" }] }, position: { x: (i % 30) * 260, y: Math.floor(i / 30) * 140 } });
  for (let i = 0; i < 300; i++) if (i % 30) edges.push({ id: `e-${i}`, source: nodes[i - 1].id, source_port: nodes[i - 1].type === "generate" ? "out" : "matched", target: nodes[i].id, target_port: "in", settings: { max_batches: 64, max_bytes: 67108864 } });
  create({ id: "big", name: "Big flow (300 nodes)", nodes, edges });
}

/* ------------------------------------------------------------------ websocket */
const sockets = new Map(); // flowId -> Set<socket>
function wsSend(sock, obj) {
  const data = Buffer.from(JSON.stringify(obj));
  let header;
  if (data.length < 126) header = Buffer.from([0x81, data.length]);
  else if (data.length < 65536) { header = Buffer.alloc(4); header[0] = 0x81; header[1] = 126; header.writeUInt16BE(data.length, 2); }
  else { header = Buffer.alloc(10); header[0] = 0x81; header[1] = 127; header.writeBigUInt64BE(BigInt(data.length), 2); }
  sock.write(Buffer.concat([header, data]));
}
function broadcast(id, obj) { for (const s of sockets.get(id) ?? []) wsSend(s, obj); }
setInterval(() => { for (const [id, set] of sockets) if (set.size && flows.has(id) && ["running", "paused"].includes(flows.get(id).run.state)) broadcast(id, { type: "metrics", metrics: metrics(id) }); }, 1000);

/* ------------------------------------------------------------------ http */
const secrets = new Map([["warehouse-password", now()]]); // name -> time; values are not kept
const json = (res, status, body, headers = {}) => { res.writeHead(status, { "Content-Type": "application/json", ...headers }); res.end(body === undefined ? "" : JSON.stringify(body)); };
const readBody = (req) => new Promise((ok) => { let b = ""; req.on("data", (c) => (b += c)); req.on("end", () => ok(b)); });

const server = createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  const p = url.pathname;
  const parts = p.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (p === "/health") return json(res, 200, { status: "ok" });
    if (parts[0] === "api" && parts[1] === "v1") {
      const r = parts.slice(2);
      const body = ["POST", "PUT"].includes(req.method) ? await readBody(req) : "";
      const parse = () => { try { return JSON.parse(body || "null"); } catch (e) { throw { status: 400, body: err(400, "Malformed JSON", String(e.message), [{ path: "$", code: "json", message: String(e.message) }]) }; } };
      if (r[0] === "processors") return json(res, 200, CATALOG);
      if (r[0] === "secrets" && r.length === 1) return json(res, 200, [...secrets.entries()].map(([name, t]) => ({ name, created_at: t, updated_at: t })));
      if (r[0] === "secrets" && r[1] && req.method === "PUT") {
        const v = parse()?.value;
        if (typeof v !== "string" || !v) return json(res, 400, err(400, "Bad request", "Validation failed", [{ path: "value", code: "invalid", message: "Expected `str` of length >= 1" }]));
        const created = !secrets.has(r[1]);
        secrets.set(r[1], now());
        res.writeHead(created ? 201 : 204);
        return res.end();
      }
      if (r[0] === "flows" && r.length === 1 && req.method === "GET") return json(res, 200, [...flows.keys()].map(summaryOf));
      if (r[0] === "flows" && r.length === 1 && req.method === "POST") { const id = create(parse()); return json(res, 201, envelope(id)); }
      if (r[0] === "flows" && r[1] === "validate") return json(res, 200, validate(parse()));
      if (r[0] === "flows" && r[1] === "import") {
        const doc = parse();
        const errors = [];
        if (!doc || typeof doc !== "object") errors.push({ path: "$", code: "type", message: "Expected an object" });
        else { if (!doc.name) errors.push({ path: "$.name", code: "missing", message: "Object missing required field `name`" }); (doc.nodes ?? []).forEach((n, i) => { if (!n.id) errors.push({ path: `$.nodes[${i}].id`, code: "missing", message: "Object missing required field `id`" }); if (!n.type) errors.push({ path: `$.nodes[${i}].type`, code: "missing", message: "Object missing required field `type`" }); }); }
        if (errors.length) return json(res, 422, err(422, "Invalid flow document", `${errors.length} problem(s) in the file`, errors));
        const id = create(doc); return json(res, 201, envelope(id));
      }
      const id = r[1], f = flows.get(id);
      if (r[0] === "flows" && id && !f) return json(res, 404, err(404, "Not found", `No flow with id "${id}"`));
      if (r.length === 2) {
        if (req.method === "GET") return json(res, 200, envelope(id), { ETag: String(f.versions.length) });
        if (req.method === "DELETE") { flows.delete(id); res.writeHead(204); return res.end(); }
        if (req.method === "PUT") {
          const { flow, expected_version } = parse();
          const cur = f.versions.length;
          if (expected_version !== cur) {
            const base = f.versions[expected_version - 1] ?? f.versions[0], current = f.versions.at(-1);
            const conflicts = flow.nodes.filter((n) => { const b = base.nodes.find((x) => x.id === n.id), c = current.nodes.find((x) => x.id === n.id); return b && c && JSON.stringify(b.config) !== JSON.stringify(c.config) && JSON.stringify(n.config) !== JSON.stringify(b.config); }).map((n) => ({ path: `nodes.${n.id}.config`, kind: "config_changed", node_id: n.id, base: base.nodes.find((x) => x.id === n.id).config, current: current.nodes.find((x) => x.id === n.id).config, saved: n.config }));
            return json(res, 409, err(409, "Version conflict", `Expected version ${expected_version}, the flow is at ${cur}.`, [], { current_version: cur, conflicts }));
          }
          const v = validate(flow);
          if (!flow.name || v.errors.some((e) => e.code === "invalid_document")) return json(res, 422, err(422, "Invalid flow", "The document does not validate", v.errors));
          const changed = JSON.stringify(flow) !== JSON.stringify(f.versions.at(-1));
          if (changed) { f.versions.push({ ...flow, id }); f.updated_at = now(); addEvent(id, "FlowSaved", { nodes: flow.nodes.length }); }
          return json(res, 200, { ...envelope(id), merged: false, changed });
        }
      }
      if (r[2] === "versions" && r.length === 3) return json(res, 200, f.versions.map((d, i) => ({ version: i + 1, recorded_at: f.created_at + i * 60, summary: i === 0 ? "created" : `${d.nodes.length} nodes, ${d.edges.length} edges`, event_count: i + 1, merged: false })));
      if (r[2] === "versions" && r[3]) return json(res, 200, envelope(id, Number(r[3])));
      if (r[2] === "diff") { const a = f.versions[Number(url.searchParams.get("from")) - 1], b = f.versions[Number(url.searchParams.get("to")) - 1]; if (!a || !b) return json(res, 404, err(404, "No such version", "")); return json(res, 200, diff(a, b)); }
      if (r[2] === "revert") { const { version } = parse(); const d = f.versions[version - 1]; if (!d) return json(res, 404, err(404, "No such version", `v${version}`)); f.versions.push(structuredClone(d)); addEvent(id, "FlowReverted", { to: version }); return json(res, 200, envelope(id)); }
      if (r[2] === "events") return json(res, 200, f.events);
      if (r[2] === "validation") return json(res, 200, validate(f.versions.at(-1)));
      if (r[2] === "export") { res.writeHead(200, { "Content-Type": "application/json", "Content-Disposition": `attachment; filename="${id}.json"` }); return res.end(JSON.stringify(f.versions.at(-1), null, 2) + "\n"); }
      if (r[2] === "run") return json(res, 200, f.run);
      if (r[2] === "metrics") return json(res, 200, metrics(id));
      if (r[2] === "edges" && r[4] === "sample") return json(res, 200, { columns: [{ name: "order_id", type: "int64" }, { name: "amount", type: "double" }, { name: "status", type: "string" }], rows: Array.from({ length: 12 }, (_, i) => ({ order_id: 1000 + i, amount: 50 + i * 17.5, status: i % 3 ? "paid" : "open" })) });
      if (["start", "pause", "resume", "stop"].includes(r[2])) {
        const a = r[2], s = f.run.state;
        const ok = { start: ["configured", "stopped", "failed", "completed"], pause: ["running"], resume: ["paused"], stop: ["running", "paused"] }[a].includes(s);
        if (!ok) return json(res, 409, err(409, "Invalid transition", `Cannot ${a} a flow that is ${s}`));
        if (a === "start") { f.started = now(); f.run.run_id = `run-${++seq}`; f.run.started_at = now(); f.run.flow_version = f.versions.length; }
        if (a === "pause" || a === "stop") f.elapsed = now() - f.started;
        if (a === "resume") f.started = now() - (f.elapsed ?? 0);
        f.run.state = { start: "running", pause: "paused", resume: "running", stop: "stopped" }[a];
        f.run.updated_at = now();
        addEvent(id, `Run${a[0].toUpperCase()}${a.slice(1)}${a === "stop" ? "ped" : a === "pause" ? "d" : "ed"}`, { run_id: f.run.run_id }, "run");
        broadcast(id, { type: "state", run: f.run });
        return json(res, 200, f.run);
      }
      return json(res, 404, err(404, "Not found", `${req.method} ${p}`));
    }
    // static SPA
    let file = join(DIST, p);
    if (!file.startsWith(DIST) || !existsSync(file) || statSync(file).isDirectory()) file = join(DIST, "index.html");
    const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".map": "application/json" };
    res.writeHead(200, { "Content-Type": types[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  } catch (e) {
    if (e && e.status) return json(res, e.status, e.body);
    json(res, 500, err(500, "Internal error", String(e?.stack ?? e)));
  }
});

server.on("upgrade", (req, sock) => {
  const m = /^\/api\/v1\/ws\/flows\/([^/?]+)/.exec(req.url);
  if (!m) return sock.destroy();
  const id = decodeURIComponent(m[1]);
  const accept = createHash("sha1").update(req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
  sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  if (!sockets.has(id)) sockets.set(id, new Set());
  sockets.get(id).add(sock);
  const drop = () => sockets.get(id)?.delete(sock);
  sock.on("data", (buf) => { if ((buf[0] & 0x0f) === 0x8) { drop(); sock.end(); } });
  sock.on("close", drop);
  sock.on("error", drop);
  if (flows.has(id)) wsSend(sock, { type: "state", run: flows.get(id).run });
});

server.listen(PORT, "127.0.0.1", () => console.log(`mock DataFlow API on http://127.0.0.1:${PORT} (seed flow: ${seedId})`));
