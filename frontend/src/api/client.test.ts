import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, ApiError, errorFromResponse, toApiError } from "./client";
import { resetSession, signedIn } from "./session";
import type { Me } from "./types";

const ADMIN: Me = { user: "admin", role: "admin", kind: "session", token_name: null, csrf_token: "csrf-1", expires_at: null };

beforeEach(() => signedIn(ADMIN));
afterEach(() => {
  vi.unstubAllGlobals();
  resetSession();
});

const jsonResponse = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

describe("api client", () => {
  it("turns the error shape into a typed ApiError with every error", async () => {
    const e = await errorFromResponse(
      jsonResponse(422, { status: 422, title: "Invalid flow", detail: "2 problems", errors: [{ path: "$.nodes[0].id", code: "missing", message: "required" }] }),
      "PUT x",
    );
    expect(e).toBeInstanceOf(ApiError);
    expect([e.status, e.title, e.detail]).toEqual([422, "Invalid flow", "2 problems"]);
    expect(e.errors).toEqual([{ path: "$.nodes[0].id", code: "missing", message: "required", node_id: undefined, edge_id: undefined }]);
  });

  it("keeps how long a 429 says to wait", async () => {
    const res = new Response(JSON.stringify({ status: 429, title: "Too Many Requests", detail: "too many sign-in attempts from 10.0.0.7: try again in 42 s" }), {
      status: 429,
      headers: { "Content-Type": "application/problem+json", "Retry-After": "42" },
    });
    const e = await errorFromResponse(res, "POST login");
    expect([e.status, e.retryAfter, e.detail]).toEqual([429, 42, "too many sign-in attempts from 10.0.0.7: try again in 42 s"]);
    expect((await errorFromResponse(jsonResponse(401, { status: 401, title: "Unauthorized" }), "x")).retryAfter).toBeNull();
  });

  it("keeps the 409 conflict body", async () => {
    const body = { status: 409, title: "Conflict", detail: "stale", errors: [], current_version: 7, conflicts: [{ path: "nodes.a.config", kind: "config_changed", base: 1, current: 2, saved: 3 }] };
    vi.stubGlobal("fetch", vi.fn(async () => jsonResponse(409, body)));
    const err = await api.saveFlow("f", { id: "f", name: "n", description: "", format_version: 1, nodes: [], edges: [], settings: { delivery: "at_least_once", checkpoint_interval_seconds: 5 } }, 5).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).conflict?.current_version).toBe(7);
    expect((err as ApiError).conflict?.conflicts).toHaveLength(1);
  });

  it("sends the expected version with the document", async () => {
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => jsonResponse(200, { flow: {}, version: 2, merged: false, changed: true }));
    vi.stubGlobal("fetch", fetchMock);
    await api.saveFlow("a b", { id: "a b", name: "n", description: "", format_version: 1, nodes: [], edges: [], settings: { delivery: "at_least_once", checkpoint_interval_seconds: 5 } }, 1);
    const [url, init] = fetchMock.mock.calls[0]!;
    expect(url).toBe("/api/v1/flows/a%20b");
    expect(init.method).toBe("PUT");
    expect(JSON.parse(String(init.body))).toMatchObject({ expected_version: 1, flow: { id: "a b" } });
  });

  it("reports non-JSON failures and network errors without losing them", async () => {
    const e = await errorFromResponse(new Response("upstream exploded", { status: 502, statusText: "Bad Gateway" }), "GET x");
    expect([e.status, e.title, e.detail]).toEqual([502, "Bad Gateway", "upstream exploded"]);
    vi.stubGlobal("fetch", vi.fn(async () => Promise.reject(new TypeError("fetch failed"))));
    const n = await api.listFlows().catch((x: unknown) => x);
    expect(n).toMatchObject({ status: 0, title: "Server unreachable" });
    expect(toApiError("boom").detail).toBe("boom");
  });

  it("builds sample queries with where and limit", async () => {
    const fetchMock = vi.fn(async (_url: string) => jsonResponse(200, { columns: [], rows: [] }));
    vi.stubGlobal("fetch", fetchMock);
    await api.sample("f", "e-1", "amount > 1", 100);
    expect(fetchMock.mock.calls[0]![0]).toBe("/api/v1/flows/f/edges/e-1/sample?limit=100&where=amount+%3E+1");
  });

  it("puts a secret's value and tells created from replaced", async () => {
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => new Response(null, { status: 201 }));
    vi.stubGlobal("fetch", fetchMock);
    expect(await api.putSecret("pg password", "s3cret")).toBe(true);
    const [url, init] = fetchMock.mock.calls[0]!;
    expect(url).toBe("/api/v1/secrets/pg%20password");
    expect(init.method).toBe("PUT");
    expect(JSON.parse(String(init.body))).toEqual({ value: "s3cret" });
    fetchMock.mockImplementationOnce(async () => new Response(null, { status: 204 }));
    expect(await api.putSecret("pg", "again")).toBe(false);
  });
});
