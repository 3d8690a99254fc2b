/** The signed-in user for components: the session (src/api/session.ts) and what its role allows. */

import { useMemo, useSyncExternalStore } from "react";
import { api, toApiError } from "../api/client";
import { getSession, signedIn, signedOut, subscribeSession, type Session } from "../api/session";
import { permissionsFor, type Permissions } from "../model/permissions";

export function useSession(): Session {
  return useSyncExternalStore(subscribeSession, getSession, getSession);
}

/** What the signed-in user may do; nobody signed in may only read (and sees the sign-in page anyway). */
export function usePermissions(): Permissions {
  const role = useSession().me?.role ?? "viewer";
  return useMemo(() => permissionsFor(role), [role]);
}

/** When the page loads: is the session cookie (which the page cannot read) still good? */
export async function checkSession(): Promise<void> {
  try {
    signedIn(await api.me());
  } catch (e) {
    const err = toApiError(e);
    // 401: nobody signed in, the usual first visit. Anything else is worth saying.
    signedOut(err.status === 401 ? null : `${err.title}${err.detail ? `: ${err.detail}` : ""}`);
  }
}
