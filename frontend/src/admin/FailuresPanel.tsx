/** Recent failed sign-ins (newest first): who was tried, from which address, when. */

import { useCallback, useEffect, useState } from "react";
import { api, isAbort } from "../api/client";
import type { LoginFailure } from "../api/types";
import { Icon } from "../components/Icon";
import { formatRelative, formatTime } from "../model/format";
import { showError } from "../state/toasts";

export function FailuresPanel() {
  const [failures, setFailures] = useState<LoginFailure[] | null>(null);

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      setFailures(await api.loginFailures(signal));
    } catch (e) {
      if (!isAbort(e)) showError(e, "Loading failed sign-ins");
    }
  }, []);

  useEffect(() => {
    const ac = new AbortController();
    void load(ac.signal);
    return () => ac.abort();
  }, [load]);

  return (
    <section className="admin-section" data-testid="failures-panel" aria-labelledby="failures-title">
      <div className="admin-section-head">
        <h2 id="failures-title">Failed sign-ins</h2>
        <button type="button" className="btn btn-small" data-testid="failures-refresh" onClick={() => void load()}>
          <Icon name="refresh" size={12} /> Refresh
        </button>
      </div>
      <div className="table-wrap">
        <table className="table compact" data-testid="failures-table">
          <thead>
            <tr>
              <th>When</th>
              <th>User name tried</th>
              <th>From</th>
            </tr>
          </thead>
          <tbody>
            {(failures ?? []).map((f, i) => (
              <tr key={`${f.at}-${i}`} data-testid="failure-row">
                <td title={formatTime(f.at)}>{formatRelative(f.at)}</td>
                <td>{f.user}</td>
                <td>
                  <code>{f.client}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {failures !== null && failures.length === 0 ? <div className="empty-state small">No failed sign-ins since the server started.</div> : null}
      </div>
    </section>
  );
}
