/** Route `/admin`: users, API tokens and failed sign-ins (admins only; others are told why). */

import { useCallback, useEffect, useState } from "react";
import { api, isAbort } from "../api/client";
import type { UserInfo } from "../api/types";
import { FailuresPanel } from "../admin/FailuresPanel";
import { TokensPanel } from "../admin/TokensPanel";
import { UsersPanel } from "../admin/UsersPanel";
import { AppHeader } from "../components/AppHeader";
import { navigate } from "../router";
import { usePermissions } from "../state/session";
import { showError } from "../state/toasts";

export function AdminPage() {
  const can = usePermissions();
  useEffect(() => {
    document.title = "Administration · DataFlow";
  }, []);
  return (
    <div className="page" data-testid="admin-page">
      <AppHeader>
        <span className="header-title">Administration</span>
      </AppHeader>
      <main className="page-body admin-page">
        {can.admin.allowed ? (
          <AdminPanels />
        ) : (
          <div className="empty-state" data-testid="admin-denied">
            <h1>Administration</h1>
            <p>This page {can.admin.reason}.</p>
            <button type="button" className="btn btn-primary" onClick={() => void navigate("/")}>
              All flows
            </button>
          </div>
        )}
      </main>
    </div>
  );
}

function AdminPanels() {
  const [users, setUsers] = useState<UserInfo[] | null>(null);
  const [usersVersion, setUsersVersion] = useState(0);

  const loadUsers = useCallback(async (signal?: AbortSignal) => {
    try {
      setUsers(await api.listUsers(signal));
      setUsersVersion((v) => v + 1);
    } catch (e) {
      if (!isAbort(e)) showError(e, "Loading users");
    }
  }, []);

  useEffect(() => {
    const ac = new AbortController();
    void loadUsers(ac.signal);
    return () => ac.abort();
  }, [loadUsers]);

  return (
    <>
      <UsersPanel users={users} onChanged={() => loadUsers()} />
      <TokensPanel users={users} refreshKey={usersVersion} />
      <FailuresPanel />
    </>
  );
}
