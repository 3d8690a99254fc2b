/** Sample records queued on a connection, filtered with a SQL WHERE clause (while the flow runs). */

import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, isAbort, toApiError } from "../api/client";
import type { JsonValue, SampleResult } from "../api/types";
import { Icon } from "../components/Icon";
import { showError } from "../state/toasts";

function cell(v: JsonValue | undefined): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export function SamplePanel({ flowId, edgeId, active }: { flowId: string; edgeId: string; active: boolean }) {
  const [where, setWhere] = useState("");
  const [result, setResult] = useState<SampleResult | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const ac = useRef<AbortController | null>(null);

  const load = useCallback(
    async (w: string) => {
      ac.current?.abort();
      const ctrl = new AbortController();
      ac.current = ctrl;
      setLoading(true);
      try {
        const r = await api.sample(flowId, edgeId, w.trim(), 100, ctrl.signal);
        setResult(r);
        setError(null);
      } catch (e) {
        if (isAbort(e)) return;
        const err = toApiError(e);
        setError(err);
        showError(err, "Sampling the connection");
      } finally {
        if (ac.current === ctrl) setLoading(false);
      }
    },
    [flowId, edgeId],
  );

  useEffect(() => {
    if (active) void load("");
    return () => ac.current?.abort();
  }, [active, load]);

  return (
    <section className="inspector-section sample" data-testid="sample-panel">
      <div className="section-title">Sample records</div>
      {!active ? (
        <div className="muted small">Start the flow to see records queued on this connection.</div>
      ) : (
        <>
          <form
            className="sample-query"
            onSubmit={(e) => {
              e.preventDefault();
              void load(where);
            }}
          >
            <input
              className="input mono"
              placeholder="SQL WHERE, e.g. amount > 100"
              aria-label="Filter sample records with a SQL WHERE clause"
              data-testid="sample-where"
              value={where}
              onChange={(e) => setWhere(e.target.value)}
            />
            <button type="submit" className="btn btn-small" data-testid="sample-refresh" aria-label="Fetch sample records" disabled={loading}>
              <Icon name="refresh" size={12} /> {loading ? "…" : "Fetch"}
            </button>
          </form>
          {error ? (
            <div className="field-error" data-testid="sample-error">
              {error.title}: {error.detail}
            </div>
          ) : null}
          {result ? (
            <div className="sample-table-wrap">
              <table className="table compact mono" data-testid="sample-table">
                <thead>
                  <tr>
                    {result.columns.map((c) => (
                      <th key={c.name} title={c.type}>
                        {c.name}
                        <span className="col-type">{c.type}</span>
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {result.rows.map((r, i) => (
                    <tr key={i}>
                      {result.columns.map((c) => (
                        <td key={c.name}>{cell(r[c.name])}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
              <div className="muted small">
                {result.rows.length} row{result.rows.length === 1 ? "" : "s"}
              </div>
            </div>
          ) : null}
        </>
      )}
    </section>
  );
}
