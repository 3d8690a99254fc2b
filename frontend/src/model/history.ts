/** Undo/redo over immutable flow documents (snapshots share structure, so they are cheap). */

export interface History<T> {
  past: readonly T[];
  present: T;
  future: readonly T[];
  /** Coalescing: consecutive commits with the same key within `coalesceMs` make one undo step. */
  lastKey: string | null;
  lastAt: number;
}

export const HISTORY_LIMIT = 200;

export function createHistory<T>(present: T): History<T> {
  return { past: [], present, future: [], lastKey: null, lastAt: 0 };
}

export interface CommitOptions<T> {
  /** Merge with the previous commit if it had the same key (typing in one field). */
  key?: string;
  now?: number;
  coalesceMs?: number;
  /** The state before a transaction (e.g. where a drag started) to record instead of `present`. */
  base?: T;
}

export function commit<T>(h: History<T>, next: T, opts: CommitOptions<T> = {}): History<T> {
  const now = opts.now ?? Date.now();
  const before = opts.base ?? h.present;
  if (Object.is(before, next)) return Object.is(h.present, next) ? h : { ...h, present: next };
  const coalesce =
    opts.key !== undefined && opts.base === undefined && h.lastKey === opts.key && now - h.lastAt <= (opts.coalesceMs ?? 1000) && h.past.length > 0;
  const past = coalesce ? h.past : [...h.past, before].slice(-HISTORY_LIMIT);
  return { past, present: next, future: [], lastKey: opts.key ?? null, lastAt: now };
}

/** Change the present without an undo step (drag in progress, server echo). */
export function replacePresent<T>(h: History<T>, next: T): History<T> {
  return Object.is(h.present, next) ? h : { ...h, present: next };
}

export function undo<T>(h: History<T>): History<T> {
  if (h.past.length === 0) return h;
  const prev = h.past[h.past.length - 1] as T;
  return { past: h.past.slice(0, -1), present: prev, future: [h.present, ...h.future], lastKey: null, lastAt: 0 };
}

export function redo<T>(h: History<T>): History<T> {
  if (h.future.length === 0) return h;
  const next = h.future[0] as T;
  return { past: [...h.past, h.present], present: next, future: h.future.slice(1), lastKey: null, lastAt: 0 };
}

export const canUndo = <T>(h: History<T>) => h.past.length > 0;
export const canRedo = <T>(h: History<T>) => h.future.length > 0;
