/** App-wide notifications. Every failed API call ends up here with its title, detail and errors[]. */

import { useSyncExternalStore } from "react";
import { ApiError, toApiError } from "../api/client";
import type { ErrorDetail } from "../api/types";

export type ToastKind = "error" | "warning" | "info" | "success";

export interface Toast {
  id: number;
  kind: ToastKind;
  title: string;
  detail: string;
  errors: ErrorDetail[];
  /** How many times the same message came in while shown. */
  count: number;
}

let toasts: Toast[] = [];
let nextId = 1;
const listeners = new Set<() => void>();
const timers = new Map<number, ReturnType<typeof setTimeout>>();
const MAX = 6;

function emit() {
  for (const fn of [...listeners]) fn();
}

export function pushToast(kind: ToastKind, title: string, detail = "", errors: ErrorDetail[] = [], ttlMs?: number): number {
  const same = toasts.find((t) => t.kind === kind && t.title === title && t.detail === detail && JSON.stringify(t.errors) === JSON.stringify(errors));
  if (same) {
    toasts = toasts.map((t) => (t === same ? { ...t, count: t.count + 1 } : t));
    emit();
    return same.id;
  }
  const id = nextId++;
  toasts = [...toasts, { id, kind, title, detail, errors, count: 1 }].slice(-MAX);
  const ttl = ttlMs ?? (kind === "error" ? 0 : kind === "warning" ? 8000 : 4000);
  if (ttl > 0) timers.set(id, setTimeout(() => dismissToast(id), ttl));
  emit();
  return id;
}

export function dismissToast(id: number): void {
  const t = timers.get(id);
  if (t) clearTimeout(t);
  timers.delete(id);
  const next = toasts.filter((x) => x.id !== id);
  if (next.length !== toasts.length) {
    toasts = next;
    emit();
  }
}

/** Show a failed call: the server's title, detail and every error with its path. */
export function showError(e: unknown, context?: string): void {
  const err: ApiError = toApiError(e);
  const title = context ? `${context}: ${err.title}` : err.title;
  pushToast("error", title, err.detail, err.errors);
}

export const showInfo = (title: string, detail = "") => pushToast("info", title, detail);
export const showSuccess = (title: string, detail = "") => pushToast("success", title, detail);
export const showWarning = (title: string, detail = "") => pushToast("warning", title, detail);

export function useToasts(): Toast[] {
  return useSyncExternalStore(
    (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    () => toasts,
    () => toasts,
  );
}
