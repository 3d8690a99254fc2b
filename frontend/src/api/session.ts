/**
 * Who is signed in, kept in memory only (never in localStorage: the session itself is an
 * HttpOnly cookie the page cannot read). The client reads the CSRF token from here, holds
 * calls while nobody is signed in, and reports a 401 here; the app shows the sign-in page
 * from the status.
 */

import type { Me } from "./types";

export type SessionStatus =
  /** Asking the server (GET /auth/me) after the page loaded. */
  | "checking"
  | "signed-in"
  /** Nobody signed in: the sign-in page replaces the app. */
  | "signed-out"
  /** The session ended while the app was in use: the sign-in page covers the app, which
   * keeps its state (unsaved edits), and the calls it makes wait for the next sign-in. */
  | "expired";

export interface Session {
  status: SessionStatus;
  me: Me | null;
  /** Shown above the sign-in form: why it is there. */
  notice: string | null;
}

let session: Session = { status: "checking", me: null, notice: null };
const listeners = new Set<() => void>();
interface Waiter {
  ready: () => void;
  dropped: () => void;
}
let waiters: Waiter[] = [];

function set(next: Session) {
  session = next;
  for (const fn of [...listeners]) fn();
  if (next.status === "signed-in" || next.status === "signed-out") {
    // Signed in: the held calls go. Signed out: the app they belong to is gone with the
    // user, so they are dropped as aborted, never sent later as someone else.
    const held = waiters;
    waiters = [];
    for (const w of held) (next.status === "signed-in" ? w.ready : w.dropped)();
  }
}

export function getSession(): Session {
  return session;
}

export function subscribeSession(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function signedIn(me: Me): void {
  set({ status: "signed-in", me, notice: null });
}

/** Nobody is signed in (the page loaded without a session, or the user signed out). */
export function signedOut(notice: string | null = null): void {
  set({ status: "signed-out", me: null, notice });
}

/**
 * A call sent with CSRF token `sentWith` was refused with 401: that session expired or was
 * revoked (unless someone signed in again since the call left).
 */
export function sessionExpired(detail: string, sentWith: string | null): void {
  if (session.status === "signed-in" && (session.me?.csrf_token ?? null) === sentWith) set({ status: "expired", me: session.me, notice: detail || "Your session has ended: sign in again." });
}

/** The token for X-CSRF-Token on unsafe calls (null before sign-in). */
export function csrfToken(): string | null {
  return session.status === "signed-in" ? (session.me?.csrf_token ?? null) : null;
}

/**
 * Resolves once someone is signed in (at once if someone is); rejects with AbortError when
 * `signal` aborts or the user signs out meanwhile.
 */
export function whenSignedIn(signal?: AbortSignal): Promise<void> {
  if (session.status === "signed-in") return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const aborted = () => new DOMException("The call was aborted", "AbortError");
    if (signal?.aborted) {
      reject(aborted());
      return;
    }
    const waiter: Waiter = {
      ready: () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      dropped: () => {
        signal?.removeEventListener("abort", onAbort);
        reject(aborted());
      },
    };
    const onAbort = () => {
      waiters = waiters.filter((w) => w !== waiter);
      reject(aborted());
    };
    waiters.push(waiter);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** For tests: back to the state of a fresh page. */
export function resetSession(): void {
  waiters = [];
  set({ status: "checking", me: null, notice: null });
}
