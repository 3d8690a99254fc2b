/** A tiny history router (a few routes) with a navigation guard for unsaved changes. */

import { useSyncExternalStore } from "react";

type Guard = () => Promise<boolean>;
let guard: Guard | null = null;
const listeners = new Set<() => void>();
let currentPath = typeof window === "undefined" ? "/" : window.location.pathname;

function emit() {
  currentPath = window.location.pathname;
  for (const fn of [...listeners]) fn();
}

/** Install a guard; returns its remover. The guard resolves false to stay. */
export function setNavigationGuard(g: Guard | null): () => void {
  guard = g;
  return () => {
    if (guard === g) guard = null;
  };
}

/** Ask the guard (unsaved changes) whether the user may leave this page, e.g. to sign out. */
export async function confirmLeave(): Promise<boolean> {
  return guard ? guard() : true;
}

export async function navigate(path: string, opts: { replace?: boolean; force?: boolean } = {}): Promise<boolean> {
  if (path === window.location.pathname) return true;
  if (!opts.force && guard && !(await guard())) return false;
  if (opts.replace) window.history.replaceState(null, "", path);
  else window.history.pushState(null, "", path);
  emit();
  return true;
}

if (typeof window !== "undefined") {
  window.addEventListener("popstate", () => {
    const target = window.location.pathname;
    if (guard && target !== currentPath) {
      // Browser back/forward with unsaved changes: stay, ask, then follow the user's choice.
      const from = currentPath;
      window.history.pushState(null, "", from);
      void guard().then((ok) => {
        if (ok) {
          window.history.replaceState(null, "", target);
          emit();
        }
      });
      return;
    }
    emit();
  });
}

export function usePath(): string {
  return useSyncExternalStore(
    (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    () => currentPath,
    () => currentPath,
  );
}

export type Route = { name: "list" } | { name: "editor"; flowId: string } | { name: "admin" } | { name: "tokens" } | { name: "not-found"; path: string };

export function matchRoute(path: string): Route {
  if (path === "/" || path === "") return { name: "list" };
  if (path === "/admin" || path === "/admin/") return { name: "admin" };
  if (path === "/tokens" || path === "/tokens/") return { name: "tokens" };
  const m = /^\/flows\/([^/]+)\/?$/.exec(path);
  if (m?.[1]) return { name: "editor", flowId: decodeURIComponent(m[1]) };
  return { name: "not-found", path };
}
