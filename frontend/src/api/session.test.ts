import { afterEach, describe, expect, it, vi } from "vitest";
import { api, ApiError } from "./client";
import { getSession, resetSession, signedIn, signedOut } from "./session";
import type { Me } from "./types";

afterEach(() => {
  vi.unstubAllGlobals();
  resetSession();
});

const me = (user: string, csrf: string, role: Me["role"] = "editor"): Me => ({ user, role, kind: "session", token_name: null, csrf_token: csrf, expires_at: null });
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const problem = (status: number, detail: string) => json(status, { status, title: status === 401 ? "Unauthorized" : "Forbidden", detail });
const FLOW = { id: "f", name: "n", description: "", format_version: 1, nodes: [], edges: [], settings: { delivery: "at_least_once" as const, checkpoint_interval_seconds: 5 } };
/** Lets pending promise callbacks run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

type Call = [string, RequestInit];

describe("the session in every call", () => {
  it("sends the CSRF token on unsafe methods only, with the cookie of this origin", async () => {
    signedIn(me("alice", "tok-a"));
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => json(200, {}));
    vi.stubGlobal("fetch", fetchMock);
    await api.listFlows();
    await api.createFlow(FLOW);
    await api.deleteFlow("f");
    const [get, post, del] = fetchMock.mock.calls as Call[];
    const header = (c: Call) => new Headers(c[1].headers).get("X-CSRF-Token");
    expect([header(get!), header(post!), header(del!)]).toEqual([null, "tok-a", "tok-a"]);
    expect(fetchMock.mock.calls.every((c) => (c as Call)[1].credentials === "same-origin")).toBe(true);
  });

  it("holds calls until someone signs in, then sends them with that session's token", async () => {
    signedOut();
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => json(200, { flow: FLOW, version: 1 }));
    vi.stubGlobal("fetch", fetchMock);
    const created = api.createFlow(FLOW);
    await settle();
    expect(fetchMock).not.toHaveBeenCalled();
    signedIn(me("bob", "tok-b"));
    await expect(created).resolves.toMatchObject({ version: 1 });
    expect(new Headers((fetchMock.mock.calls[0] as Call)[1].headers).get("X-CSRF-Token")).toBe("tok-b");
  });

  it("a held call is dropped when its caller aborts", async () => {
    signedOut();
    vi.stubGlobal("fetch", vi.fn());
    const ac = new AbortController();
    const listed = api.listFlows(ac.signal);
    ac.abort();
    await expect(listed).rejects.toMatchObject({ name: "AbortError" });
  });

  it("calls held when the session ended are dropped, not sent, if the user signs out", async () => {
    signedIn(me("alice", "tok-a"));
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => problem(401, "expired"));
    vi.stubGlobal("fetch", fetchMock);
    const saved = api.saveFlow("f", FLOW, 1);
    await vi.waitFor(() => expect(getSession().status).toBe("expired"));
    signedOut("You signed out.");
    await expect(saved).rejects.toMatchObject({ name: "AbortError" });
    signedIn(me("bob", "tok-b"));
    await settle();
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it("a 401 anywhere shows the sign-in page; after signing in the same call goes again", async () => {
    signedIn(me("alice", "tok-a"));
    const fetchMock = vi
      .fn(async (_url: string, _init: RequestInit) => json(200, { flow: FLOW, version: 3, merged: false, changed: true }))
      .mockImplementationOnce(async () => problem(401, "the token or session is unknown, revoked or expired"));
    vi.stubGlobal("fetch", fetchMock);
    const saved = api.saveFlow("f", FLOW, 2);
    await vi.waitFor(() => expect(getSession().status).toBe("expired"));
    expect(getSession().notice).toBe("the token or session is unknown, revoked or expired");
    expect(fetchMock).toHaveBeenCalledTimes(1);
    signedIn(me("alice", "tok-a2"));
    await expect(saved).resolves.toMatchObject({ version: 3 });
    const retry = fetchMock.mock.calls[1] as Call;
    expect(JSON.parse(String(retry[1].body))).toMatchObject({ expected_version: 2 });
    expect(new Headers(retry[1].headers).get("X-CSRF-Token")).toBe("tok-a2");
  });

  it("a 401 of a session older than the current one changes nothing", async () => {
    signedIn(me("alice", "tok-a"));
    let answer!: (r: Response) => void;
    const fetchMock = vi
      .fn(async (_url: string, _init: RequestInit) => json(200, []))
      .mockImplementationOnce(() => new Promise<Response>((r) => (answer = r)));
    vi.stubGlobal("fetch", fetchMock);
    const listed = api.listFlows();
    await settle();
    signedIn(me("alice", "tok-new")); // signed in again while the call was out
    answer(problem(401, "expired"));
    await expect(listed).resolves.toEqual([]);
    expect(getSession().status).toBe("signed-in");
  });

  it("a wrong password is the sign-in's own failure, not a session's end", async () => {
    signedOut();
    vi.stubGlobal("fetch", vi.fn(async () => problem(401, "wrong user name or password")));
    const err = await api.login("alice", "nope").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).detail).toBe("wrong user name or password");
    expect(getSession().status).toBe("signed-out");
  });

  it("sends the login without waiting and keeps the CSRF token of its answer in memory", async () => {
    signedOut();
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => json(200, me("alice", "tok-login")));
    vi.stubGlobal("fetch", fetchMock);
    const answer = await api.login("alice", "secret-password");
    expect((fetchMock.mock.calls[0] as Call)[0]).toBe("/api/v1/auth/login");
    signedIn(answer);
    await api.deleteFlow("f");
    expect(new Headers((fetchMock.mock.calls[1] as Call)[1].headers).get("X-CSRF-Token")).toBe("tok-login");
  });

  it("a stale CSRF token (signed in again in another tab) is replaced and the call sent again", async () => {
    signedIn(me("alice", "tok-old"));
    const fetchMock = vi.fn(async (url: string, init: RequestInit) => {
      if (url === "/api/v1/auth/me") return json(200, me("carol", "tok-new", "admin"));
      return new Headers(init.headers).get("X-CSRF-Token") === "tok-new" ? new Response(null, { status: 204 }) : problem(403, "missing or wrong x-csrf-token header");
    });
    vi.stubGlobal("fetch", fetchMock);
    await api.deleteFlow("f");
    expect(getSession().me?.user).toBe("carol");
    expect(fetchMock).toHaveBeenCalledTimes(3);
  });

  it("a 403 for the role is shown as it is, naming the role needed", async () => {
    signedIn(me("vera", "tok-v", "viewer"));
    const fetchMock = vi.fn(async (url: string) => (url === "/api/v1/auth/me" ? json(200, me("vera", "tok-v", "viewer")) : problem(403, "vera has role viewer; this needs operator or higher")));
    vi.stubGlobal("fetch", fetchMock);
    const err = await api.runAction("f", "start").catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 403, detail: "vera has role viewer; this needs operator or higher" });
    expect(getSession().status).toBe("signed-in");
  });
});
