/**
 * The signed-in user and role, sign-out, and a link to the admin page (admins) or to the
 * user's own API tokens (everyone else): in every page's header.
 */

import { api } from "../api/client";
import { signedOut } from "../api/session";
import { confirmLeave, navigate } from "../router";
import { usePermissions, useSession } from "../state/session";
import { Icon } from "./Icon";

export async function signOut(): Promise<void> {
  if (!(await confirmLeave())) return; // unsaved edits: the user chose to stay
  try {
    await api.logout();
  } catch {
    // Already over on the server (expired, revoked): signed out either way.
  }
  signedOut("You signed out.");
}

export function UserMenu() {
  const { me } = useSession();
  const can = usePermissions();
  if (!me) return null;
  return (
    <div className="user-menu" data-testid="user-menu">
      {can.admin.allowed ? (
        <a
          href="/admin"
          className="user-menu-link"
          data-testid="admin-link"
          title="Users, API tokens and failed sign-ins"
          onClick={(e) => {
            e.preventDefault();
            void navigate("/admin");
          }}
        >
          <Icon name="lock" size={13} /> Admin
        </a>
      ) : (
        <a
          href="/tokens"
          className="user-menu-link"
          data-testid="tokens-link"
          title="Your API tokens, for scripts"
          onClick={(e) => {
            e.preventDefault();
            void navigate("/tokens");
          }}
        >
          <Icon name="lock" size={13} /> API tokens
        </a>
      )}
      <span className="user-menu-who" title={`Signed in as ${me.user} (${me.role})`}>
        <span data-testid="current-user">{me.user}</span>
        <span className={`role-chip role-${me.role}`} data-testid="current-role">
          {me.role}
        </span>
      </span>
      <button type="button" className="btn btn-small user-menu-out" data-testid="sign-out" onClick={() => void signOut()}>
        Sign out
      </button>
    </div>
  );
}
