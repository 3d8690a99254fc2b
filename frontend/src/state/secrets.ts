/** Names of the server's secrets (GET /secrets), loaded once and shared by every secret field. Values never come here. */

import { useEffect, useSyncExternalStore } from "react";
import { api, toApiError } from "../api/client";
import { getSession, subscribeSession } from "../api/session";

export interface SecretsState {
  /** Sorted names; null until the first answer. */
  names: string[] | null;
  loading: boolean;
  error: string | null;
}

const EMPTY: SecretsState = { names: null, loading: false, error: null };
let state: SecretsState = EMPTY;
let inflight: Promise<void> | null = null;
const listeners = new Set<() => void>();

function set(next: Partial<SecretsState>) {
  state = { ...state, ...next };
  for (const fn of [...listeners]) fn();
}

// The list is what one user may see: another user signing in starts from nothing.
let listedFor: string | null = null;
subscribeSession(() => {
  const user = getSession().me?.user ?? null;
  if (user === listedFor) return;
  listedFor = user;
  set(EMPTY);
});

/** Fetch the list (again); concurrent callers share one request. */
export function loadSecrets(): Promise<void> {
  if (inflight) return inflight;
  set({ loading: true });
  inflight = api
    .listSecrets()
    .then((list) => set({ names: list.map((s) => s.name).sort((a, b) => a.localeCompare(b)), loading: false, error: null }))
    .catch((e: unknown) => {
      const err = toApiError(e);
      set({ loading: false, error: `${err.title}${err.detail ? `: ${err.detail}` : ""}` });
    })
    .finally(() => {
      inflight = null;
    });
  return inflight;
}

/** Create or replace a secret, then refresh the list. True when it was created. */
export async function saveSecret(name: string, value: string): Promise<boolean> {
  const created = await api.putSecret(name, value);
  await loadSecrets();
  return created;
}

function subscribe(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The shared list; loaded on first use when `enabled` (the role may list secret names). */
export function useSecrets(enabled = true): SecretsState {
  const s = useSyncExternalStore(subscribe, () => state);
  useEffect(() => {
    if (enabled && state.names === null && !state.loading && state.error === null) void loadSecrets();
  }, [enabled, s]);
  return s;
}
