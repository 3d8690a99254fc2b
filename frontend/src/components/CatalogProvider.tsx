/** Loads the processor catalog and the flow schema once; a failure is shown and can be retried. */

import { useCallback, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, isAbort, toApiError } from "../api/client";
import type { FlowSchema, ProcessorInfo } from "../api/types";
import { CatalogContext, type CatalogState } from "../state/catalog";
import { showError } from "../state/toasts";

export function CatalogProvider({ children }: { children: ReactNode }) {
  const [list, setList] = useState<ProcessorInfo[]>([]);
  const [flowSchema, setFlowSchema] = useState<FlowSchema | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const ac = new AbortController();
    setLoading(true);
    Promise.all([api.listProcessors(ac.signal), api.flowSchema(ac.signal)])
      .then(([l, s]) => {
        setList(l);
        setFlowSchema(s);
        setError(null);
      })
      .catch((e: unknown) => {
        if (isAbort(e)) return;
        const err = toApiError(e);
        setError(`${err.title}${err.detail ? `: ${err.detail}` : ""}`);
        showError(err, "Loading the processor catalog");
      })
      .finally(() => {
        if (!ac.signal.aborted) setLoading(false);
      });
    return () => ac.abort();
  }, [attempt]);

  const reload = useCallback(() => setAttempt((a) => a + 1), []);
  const value = useMemo<CatalogState>(() => ({ list, byType: new Map(list.map((p) => [p.type, p])), flowSchema, loading, error, reload }), [list, flowSchema, loading, error, reload]);
  return <CatalogContext.Provider value={value}>{children}</CatalogContext.Provider>;
}
