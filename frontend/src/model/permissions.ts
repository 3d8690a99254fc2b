/**
 * What a role may do in the editor: one table, the server's (backend/dataflow/security/roles.py,
 * and the `needs(...)` of each route), so every control asks the same question and says why not.
 */

import type { Role } from "../api/types";

/** Each role allows everything the one before it does. */
export const ROLES: readonly Role[] = ["viewer", "operator", "editor", "admin"];

export type Capability =
  /** See flows, versions, runs, metrics, samples; export. */
  | "read"
  /** Start, stop, pause and resume runs. */
  | "run"
  /** Create, save, import, revert and delete flows: the canvas and forms are editable. */
  | "edit"
  /** List secret names in a secret field. */
  | "secretNames"
  /** Create or replace secret values. */
  | "secretValues"
  /** Users, everyone's tokens, failed sign-ins. */
  | "admin";

/** The least role each capability needs. */
export const LEAST_ROLE: Readonly<Record<Capability, Role>> = {
  read: "viewer",
  run: "operator",
  edit: "editor",
  secretNames: "editor",
  secretValues: "admin",
  admin: "admin",
};

export interface Permission {
  allowed: boolean;
  /** Why not, when not (the control's tooltip): "needs the operator role (you are viewer)". */
  reason: string | undefined;
}

export type Permissions = Readonly<Record<Capability, Permission>> & { role: Role };

export function allows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export function permissionsFor(role: Role): Permissions {
  const table = {} as Record<Capability, Permission>;
  for (const [capability, need] of Object.entries(LEAST_ROLE) as [Capability, Role][]) {
    const allowed = allows(role, need);
    table[capability] = { allowed, reason: allowed ? undefined : `needs the ${need} role (you are ${role})` };
  }
  return { ...table, role };
}

/**
 * Props of a control that needs `p`: disabled with the reason as its tooltip and accessible
 * description when denied; `title` is the control's usual tooltip otherwise.
 */
export function gate(p: Permission, title?: string): { disabled: boolean; title: string | undefined; "aria-description": string | undefined } {
  return { disabled: !p.allowed, title: p.allowed ? title : p.reason, "aria-description": p.reason };
}
