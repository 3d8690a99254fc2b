/** Users: the list with each one's role (changed in place), password reset and delete; a form to add one. */

import { useState } from "react";
import { api, toApiError } from "../api/client";
import { signedIn } from "../api/session";
import type { Role, UserInfo } from "../api/types";
import { useDialogs } from "../components/Dialogs";
import { Icon } from "../components/Icon";
import { nameProblem, passwordProblem } from "../model/accounts";
import { formatRelative, formatTime } from "../model/format";
import { ROLES } from "../model/permissions";
import { useSession } from "../state/session";
import { showError, showSuccess } from "../state/toasts";

interface Props {
  users: UserInfo[] | null;
  /** Load the list again (after any change). */
  onChanged: () => Promise<void>;
}

export function UsersPanel({ users, onChanged }: Props) {
  const { me } = useSession();
  const { confirm, prompt } = useDialogs();

  const setRole = async (u: UserInfo, role: Role) => {
    try {
      await api.updateUser(u.name, { role });
      showSuccess(`${u.name} is now ${role}`);
      // Your own role changed: what the editor lets you do changes with it.
      if (u.name === me?.user) signedIn(await api.me());
    } catch (e) {
      showError(e, `Changing the role of ${u.name}`);
    }
    await onChanged();
  };

  const resetPassword = async (u: UserInfo) => {
    const password = await prompt({
      title: `New password for ${u.name}`,
      label: "Password",
      inputType: "password",
      okLabel: "Set password",
      validate: passwordProblem,
    });
    if (password === null) return;
    try {
      await api.updateUser(u.name, { password });
      showSuccess(`Password of ${u.name} changed`, "Their sessions and tokens keep working; revoke tokens below if they leaked.");
    } catch (e) {
      showError(e, `Setting the password of ${u.name}`);
    }
  };

  const remove = async (u: UserInfo) => {
    const ok = await confirm({
      title: "Delete user?",
      message: (
        <>
          Delete <strong>{u.name}</strong> ({u.role})? Their sessions and API tokens stop working at once.
        </>
      ),
      okLabel: "Delete",
      danger: true,
    });
    if (!ok) return;
    try {
      await api.deleteUser(u.name);
      showSuccess(`Deleted ${u.name}`);
    } catch (e) {
      showError(e, `Deleting ${u.name}`);
    }
    await onChanged();
  };

  return (
    <section className="admin-section" data-testid="users-panel" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <div className="table-wrap">
        <table className="table" data-testid="users-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th>Created</th>
              <th className="actions-col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(users ?? []).map((u) => {
              const self = u.name === me?.user;
              return (
                <tr key={u.name} data-testid={`user-row-${u.name}`}>
                  <td>
                    {u.name}
                    {self ? <span className="tag">you</span> : null}
                  </td>
                  <td>
                    <select
                      className="input select small"
                      data-testid={`user-role-${u.name}`}
                      aria-label={`Role of ${u.name}`}
                      value={u.role}
                      onChange={(e) => void setRole(u, e.target.value as Role)}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td title={formatTime(u.created_at)}>{formatRelative(u.created_at)}</td>
                  <td className="row-actions">
                    <button type="button" className="btn btn-small" data-testid={`user-password-${u.name}`} onClick={() => void resetPassword(u)}>
                      Reset password
                    </button>
                    <button
                      type="button"
                      className="icon-btn danger"
                      data-testid={`user-delete-${u.name}`}
                      aria-label={`Delete ${u.name}`}
                      disabled={self}
                      title={self ? "You cannot delete yourself while signed in: another admin can" : "Delete"}
                      onClick={() => void remove(u)}
                    >
                      <Icon name="trash" />
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {users === null ? <div className="empty-state small">Loading…</div> : null}
      </div>
      <NewUserForm onCreated={onChanged} />
    </section>
  );
}

function NewUserForm({ onCreated }: { onCreated: () => Promise<void> }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async () => {
    const problem = nameProblem(name.trim(), "A user name") ?? passwordProblem(password);
    if (problem) {
      setError(problem);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const user = await api.createUser(name.trim(), password, role);
      showSuccess(`Created ${user.name} (${user.role})`);
      setName("");
      setPassword("");
      await onCreated();
    } catch (e) {
      const err = toApiError(e);
      setError([err.detail || err.title, ...err.errors.map((x) => x.message)].join(" "));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="admin-form"
      data-testid="new-user-form"
      aria-label="New user"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <label>
        <span className="field-label">User name</span>
        <input className="input" data-testid="new-user-name" autoComplete="off" spellCheck={false} value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        <span className="field-label">Password</span>
        <input className="input" type="password" autoComplete="new-password" data-testid="new-user-password" value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      <label>
        <span className="field-label">Role</span>
        <select className="input select" data-testid="new-user-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="btn btn-primary" data-testid="new-user-submit" disabled={busy}>
        <Icon name="plus" size={14} /> Add user
      </button>
      {error ? (
        <div className="field-error admin-form-error" role="alert" data-testid="new-user-error">
          {error}
        </div>
      ) : null}
    </form>
  );
}
