/**
 * The one HTTP client: every call to the backend goes through `request`, and fails with ApiError.
 * It also owns the session's part of every call: the cookie (same-origin), X-CSRF-Token on
 * unsafe methods, and what a 401 means (the session ended: sign in, then the call goes again).
 */

import { csrfToken, sessionExpired, signedIn, whenSignedIn } from "./session";
import type {
  SignInOptions,
  ConflictBody,
  ErrorBody,
  ErrorDetail,
  Flow,
  FlowDiff,
  FlowEnvelope,
  FlowEvent,
  FlowMetrics,
  FlowSchema,
  FlowSummary,
  IssuedToken,
  LoginFailure,
  LoginResult,
  Me,
  NewToken,
  ProcessorInfo,
  Role,
  RunInfo,
  SampleResult,
  SaveFlowResponse,
  SecretInfo,
  ValidationResult,
  TokenInfo,
  UserInfo,
  VersionInfo,
} from "./types";

export const API_BASE = "/api/v1";

/** A failed call, carrying the server's error body (`title`, `detail`, `errors[]`). */
export class ApiError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly errors: ErrorDetail[];
  /** The whole decoded body (409 conflicts carry `current_version` and `conflicts`). */
  readonly body: unknown;
  /** Seconds to wait before trying again (a 429's Retry-After), if the server said. */
  retryAfter: number | null = null;

  constructor(status: number, title: string, detail: string, errors: ErrorDetail[] = [], body: unknown = null) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = "ApiError";
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
    this.body = body;
  }

  get isConflict(): boolean {
    return this.status === 409;
  }

  /** The 409 body of a stale save, if this is one. */
  get conflict(): ConflictBody | null {
    const b = this.body as Partial<ConflictBody> | null;
    return this.status === 409 && b && typeof b.current_version === "number" ? (b as ConflictBody) : null;
  }
}

function isErrorBody(x: unknown): x is Partial<ErrorBody> {
  return typeof x === "object" && x !== null && ("title" in x || "detail" in x || "errors" in x);
}

/** Turn any non-2xx response into an ApiError, whatever the body looks like. */
export async function errorFromResponse(res: Response, what: string): Promise<ApiError> {
  const error = await decodeError(res, what);
  const wait = Number(res.headers.get("Retry-After") ?? "");
  if (res.headers.has("Retry-After") && Number.isFinite(wait) && wait >= 0) error.retryAfter = wait;
  return error;
}

async function decodeError(res: Response, what: string): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (isErrorBody(body)) {
    const errors = (Array.isArray(body.errors) ? body.errors : []) as Partial<ErrorDetail>[];
    return new ApiError(
      res.status,
      body.title || res.statusText || `HTTP ${res.status}`,
      body.detail ?? "",
      errors.map((e) => ({ path: e.path ?? "", code: e.code ?? "", message: e.message ?? String(e), node_id: e.node_id, edge_id: e.edge_id })),
      body,
    );
  }
  const detail = text && text.length < 500 ? text : `${what} failed`;
  return new ApiError(res.status, res.statusText || `HTTP ${res.status}`, detail, [], body);
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as is (already-serialised JSON text, e.g. an imported file). */
  rawBody?: string;
  query?: Record<string, string | number | boolean | undefined | null>;
  signal?: AbortSignal;
  /**
   * A call made without a session (sign-in, the check when the page loads, sign-out): it is
   * not held while nobody is signed in, and a 401 is its own failure, not a session's end.
   */
  anonymous?: boolean;
}

export const CSRF_HEADER = "X-CSRF-Token";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function buildUrl(path: string, query?: RequestOptions["query"]): string {
  let url = path.startsWith("/") ? path : `${API_BASE}/${path}`;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  return url;
}

export async function rawRequest(method: string, path: string, opts: RequestOptions = {}, adoptNewer = true): Promise<Response> {
  // Nobody signed in (the page is loading, or the sign-in page shows): wait for the next sign-in.
  if (!opts.anonymous) await whenSignedIn(opts.signal);
  const headers: Record<string, string> = { Accept: "application/json" };
  let body: string | undefined;
  if (opts.rawBody !== undefined) {
    body = opts.rawBody;
    headers["Content-Type"] = "application/json";
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["Content-Type"] = "application/json";
  }
  const unsafe = !SAFE_METHODS.has(method.toUpperCase());
  const csrf = csrfToken();
  if (unsafe && csrf) headers[CSRF_HEADER] = csrf;
  const url = buildUrl(path, opts.query);
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body, signal: opts.signal, credentials: "same-origin" });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, "Server unreachable", `${method} ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (res.ok) return res;
  const error = await errorFromResponse(res, `${method} ${url}`);
  if (!opts.anonymous && res.status === 401) {
    // The session expired or was revoked: the server did nothing, so after the next sign-in
    // the same call goes again and its caller never sees the interruption.
    sessionExpired(error.detail, csrf);
    return rawRequest(method, path, opts);
  }
  if (adoptNewer && !opts.anonymous && res.status === 403 && unsafe && csrf && (await adoptNewerSession(csrf))) {
    // Signed in again in another tab: the cookie is a newer session's, the token was the old one's.
    return rawRequest(method, path, opts, false);
  }
  throw error;
}

/** True when the cookie now belongs to another session than the CSRF token `sent` (which is then replaced). */
async function adoptNewerSession(sent: string): Promise<boolean> {
  try {
    const me = await api.me();
    if (!me.csrf_token || me.csrf_token === sent) return false;
    signedIn(me);
    return true;
  } catch {
    return false;
  }
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await rawRequest(method, path, opts);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(res.status, "Bad response", `${method} ${path}: the server did not answer JSON`);
  }
}

const enc = encodeURIComponent;
const flowPath = (id: string) => `${API_BASE}/flows/${enc(id)}`;

export type RunAction = "start" | "pause" | "resume" | "stop";

export const api = {
  /** Sign in: sets the session cookie; the answer carries the CSRF token. */
  login: (name: string, password: string) => request<LoginResult>("POST", `${API_BASE}/auth/login`, { body: { name, password }, anonymous: true }),
  /** What the sign-in page offers: a single sign-on button when a provider is configured. */
  signInOptions: (signal?: AbortSignal) => request<SignInOptions>("GET", `${API_BASE}/auth/options`, { signal, anonymous: true }),
  /** Who the session cookie belongs to (401 without one). */
  me: (signal?: AbortSignal) => request<Me>("GET", `${API_BASE}/auth/me`, { signal, anonymous: true }),
  logout: () => request<void>("POST", `${API_BASE}/auth/logout`, { anonymous: true }),

  listUsers: (signal?: AbortSignal) => request<UserInfo[]>("GET", `${API_BASE}/users`, { signal }),
  createUser: (name: string, password: string, role: Role) => request<UserInfo>("POST", `${API_BASE}/users`, { body: { name, password, role } }),
  updateUser: (name: string, change: { role?: Role; password?: string }) => request<UserInfo>("PATCH", `${API_BASE}/users/${enc(name)}`, { body: change }),
  deleteUser: (name: string) => request<void>("DELETE", `${API_BASE}/users/${enc(name)}`),
  /** Your API tokens; an admin's call lists everyone's. */
  listTokens: (signal?: AbortSignal) => request<TokenInfo[]>("GET", `${API_BASE}/tokens`, { signal }),
  createToken: (token: NewToken) => request<IssuedToken>("POST", `${API_BASE}/tokens`, { body: token }),
  revokeToken: (id: string) => request<void>("DELETE", `${API_BASE}/tokens/${enc(id)}`),
  loginFailures: (signal?: AbortSignal) => request<LoginFailure[]>("GET", `${API_BASE}/auth/failures`, { signal }),

  listProcessors: (signal?: AbortSignal) => request<ProcessorInfo[]>("GET", `${API_BASE}/processors`, { signal }),
  /** The flow document's JSON Schema: the edge and flow settings forms are built from it. */
  flowSchema: (signal?: AbortSignal) => request<FlowSchema>("GET", `${API_BASE}/schema/flow.json`, { signal }),

  listFlows: (signal?: AbortSignal) => request<FlowSummary[]>("GET", `${API_BASE}/flows`, { signal }),
  createFlow: (flow: Flow) => request<FlowEnvelope>("POST", `${API_BASE}/flows`, { body: flow }),
  getFlow: (id: string, signal?: AbortSignal) => request<FlowEnvelope>("GET", flowPath(id), { signal }),
  saveFlow: (id: string, flow: Flow, expectedVersion: number) =>
    request<SaveFlowResponse>("PUT", flowPath(id), { body: { flow, expected_version: expectedVersion } }),
  deleteFlow: (id: string) => request<void>("DELETE", flowPath(id)),

  listVersions: (id: string, signal?: AbortSignal) => request<VersionInfo[]>("GET", `${flowPath(id)}/versions`, { signal }),
  getVersion: (id: string, n: number) => request<FlowEnvelope>("GET", `${flowPath(id)}/versions/${n}`),
  diff: (id: string, from: number, to: number, signal?: AbortSignal) =>
    request<FlowDiff>("GET", `${flowPath(id)}/diff`, { query: { from, to }, signal }),
  revert: (id: string, version: number) => request<FlowEnvelope>("POST", `${flowPath(id)}/revert`, { body: { version } }),

  events: (id: string, signal?: AbortSignal) => request<FlowEvent[]>("GET", `${flowPath(id)}/events`, { signal }),

  /** The export file as the server writes it (text, so it downloads byte for byte). */
  exportFlow: async (id: string): Promise<{ text: string; filename: string }> => {
    const res = await rawRequest("GET", `${flowPath(id)}/export`);
    const text = await res.text();
    const cd = res.headers.get("Content-Disposition") ?? "";
    const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
    return { text, filename: m?.[1] ? decodeURIComponent(m[1]) : `${id}.json` };
  },
  importFlow: (fileText: string) => request<FlowEnvelope>("POST", `${API_BASE}/flows/import`, { rawBody: fileText }),

  /** Validate any document (editors: it is a write route, as the document is arbitrary). */
  validate: (flow: Flow, signal?: AbortSignal) =>
    request<ValidationResult>("POST", `${API_BASE}/flows/validate`, { body: flow, signal }),
  /** The saved flow's validation report (any role). */
  savedValidation: (id: string, signal?: AbortSignal) => request<ValidationResult>("GET", `${flowPath(id)}/validation`, { signal }),

  run: (id: string, signal?: AbortSignal) => request<RunInfo>("GET", `${flowPath(id)}/run`, { signal }),
  runAction: (id: string, action: RunAction, force = false) =>
    request<RunInfo>("POST", `${flowPath(id)}/${action}`, { query: force ? { force: true } : undefined }),
  metrics: (id: string, signal?: AbortSignal) => request<FlowMetrics>("GET", `${flowPath(id)}/metrics`, { signal }),
  sample: (id: string, edgeId: string, where: string, limit = 100, signal?: AbortSignal) =>
    request<SampleResult>("GET", `${flowPath(id)}/edges/${enc(edgeId)}/sample`, { query: { limit, where }, signal }),

  listSecrets: (signal?: AbortSignal) => request<SecretInfo[]>("GET", `${API_BASE}/secrets`, { signal }),
  /** Create or replace a secret; true when it was created (201), false when replaced (204). */
  putSecret: async (name: string, value: string): Promise<boolean> => {
    const res = await rawRequest("PUT", `${API_BASE}/secrets/${enc(name)}`, { body: { value } });
    return res.status === 201;
  },
};

export function socketUrl(flowId: string): string {
  const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${window.location.host}${API_BASE}/ws/flows/${enc(flowId)}`;
}

/** Normalise anything thrown into an ApiError so the UI can always show title + detail. */
export function toApiError(e: unknown, title = "Unexpected error"): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof Error) return new ApiError(0, title, e.message);
  return new ApiError(0, title, String(e));
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}
