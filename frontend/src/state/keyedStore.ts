/** A store of values by key that components subscribe to one key at a time (no global re-render). */

import { useCallback, useSyncExternalStore } from "react";

export class KeyedStore<V> {
  private values = new Map<string, V>();
  private listeners = new Map<string, Set<() => void>>();
  private readonly equal: (a: V, b: V) => boolean;

  constructor(equal: (a: V, b: V) => boolean = Object.is) {
    this.equal = equal;
  }

  get(key: string): V | undefined {
    return this.values.get(key);
  }

  keys(): IterableIterator<string> {
    return this.values.keys();
  }

  /** Set one value; listeners of that key run only if it really changed. */
  set(key: string, value: V | undefined): void {
    const prev = this.values.get(key);
    if (value === undefined) {
      if (!this.values.has(key)) return;
      this.values.delete(key);
    } else {
      if (prev !== undefined && this.equal(prev, value)) return;
      this.values.set(key, value);
    }
    this.emit(key);
  }

  /** Replace the whole content: changed keys notify, missing keys are removed. */
  replaceAll(entries: Iterable<[string, V]>): void {
    const seen = new Set<string>();
    for (const [k, v] of entries) {
      seen.add(k);
      this.set(k, v);
    }
    for (const k of [...this.values.keys()]) if (!seen.has(k)) this.set(k, undefined);
  }

  clear(): void {
    this.replaceAll([]);
  }

  subscribe(key: string, fn: () => void): () => void {
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.listeners.delete(key);
    };
  }

  private emit(key: string): void {
    const set = this.listeners.get(key);
    if (set) for (const fn of [...set]) fn();
  }
}

export function useKeyed<V>(store: KeyedStore<V>, key: string): V | undefined {
  const subscribe = useCallback((fn: () => void) => store.subscribe(key, fn), [store, key]);
  const get = useCallback(() => store.get(key), [store, key]);
  return useSyncExternalStore(subscribe, get, get);
}

/** JSON equality for small plain values (metrics of one node, issue lists). */
export function jsonEqual<V>(a: V, b: V): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
