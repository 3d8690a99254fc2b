/**
 * A config field marked `x-secret`: it holds a reference to a named secret,
 * `{"secret": "NAME"}`, never the value (the server refuses clear values with
 * `secret_in_clear`). Pure logic of the picker: what the field holds, what the select
 * offers, and whether a new secret's name and value can be sent.
 */

import type { JsonValue } from "../api/types";

/** The server's pattern for secret names (`dataflow.secrets.NAME_PATTERN`). */
export const SECRET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** The server accepts values of 1 to 65536 characters. */
export const SECRET_VALUE_MAX = 65536;

export type SecretRef = { secret: string };

/** What an x-secret field currently holds. */
export type SecretFieldValue =
  | { kind: "unset" }
  | { kind: "ref"; name: string }
  /** A password typed in clear (an old or hand-written file): the server refuses it. */
  | { kind: "clear" }
  /** Anything else (a number, an object that is not a reference). */
  | { kind: "invalid"; value: JsonValue };

export function secretRef(name: string): SecretRef {
  return { secret: name };
}

export function isSecretRef(value: unknown): value is SecretRef {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === "secret" && typeof (value as Record<string, unknown>).secret === "string";
}

export function readSecretField(value: JsonValue | undefined): SecretFieldValue {
  // "" and null are the "no password" defaults processors declare: nothing is stored.
  if (value === undefined || value === null || value === "") return { kind: "unset" };
  if (isSecretRef(value)) return { kind: "ref", name: value.secret };
  if (typeof value === "string") return { kind: "clear" };
  return { kind: "invalid", value };
}

export interface SecretOption {
  name: string;
  /** Referenced by the field but not on the server (deleted, or a flow from elsewhere). */
  missing: boolean;
}

/**
 * The names the select offers, sorted; a referenced name the server does not know is
 * kept (flagged) so the select shows what the flow says instead of silently changing it.
 * While the list is not loaded (`names` null) nothing is flagged missing.
 */
export function secretOptions(names: readonly string[] | null, current: SecretFieldValue): SecretOption[] {
  const known = new Set(names ?? []);
  const out: SecretOption[] = [...known].sort((a, b) => a.localeCompare(b)).map((name) => ({ name, missing: false }));
  if (current.kind === "ref" && !known.has(current.name)) {
    out.push({ name: current.name, missing: names !== null });
    out.sort((a, b) => a.name.localeCompare(b.name));
  }
  return out;
}

export interface NewSecretCheck {
  nameError: string | null;
  valueError: string | null;
  /** The name exists: saving replaces its value (for every flow that refers to it). */
  replaces: boolean;
  ok: boolean;
}

/** Check a new secret before it is sent with PUT /api/v1/secrets/{name}. */
export function checkNewSecret(name: string, value: string, existing: readonly string[] | null): NewSecretCheck {
  let nameError: string | null = null;
  if (name === "") nameError = "A secret needs a name.";
  else if (name.length > 128) nameError = "At most 128 characters.";
  else if (!SECRET_NAME_PATTERN.test(name)) nameError = "Letters, digits, '_', '.' and '-', starting with a letter or digit.";
  let valueError: string | null = null;
  if (value === "") valueError = "Enter the value to keep secret.";
  else if (value.length > SECRET_VALUE_MAX) valueError = `At most ${SECRET_VALUE_MAX} characters.`;
  const replaces = nameError === null && (existing ?? []).includes(name);
  return { nameError, valueError, replaces, ok: nameError === null && valueError === null };
}

/** A name to suggest for a new secret: `<node>-<field>`, made valid, not yet taken. */
export function suggestSecretName(nodeId: string, fieldKey: string, existing: readonly string[] | null): string {
  const stem =
    `${nodeId}-${fieldKey}`
      .replace(/[^A-Za-z0-9_.-]+/g, "-")
      .replace(/^[^A-Za-z0-9]+/, "")
      .slice(0, 120) || "secret";
  const taken = new Set(existing ?? []);
  if (!taken.has(stem)) return stem;
  for (let i = 2; ; i++) if (!taken.has(`${stem}-${i}`)) return `${stem}-${i}`;
}
