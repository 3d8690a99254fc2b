/** Route `/flows/:id`: load the flow, then the editor workspace (palette, canvas, inspector, dock). */

import { ReactFlowProvider } from "@xyflow/react";
import { useEffect, useState } from "react";
import { api, ApiError, isAbort, toApiError } from "../api/client";
import type { FlowEnvelope } from "../api/types";
import { AppHeader } from "../components/AppHeader";
import { EditorWorkspace } from "../editor/EditorWorkspace";
import { navigate } from "../router";
import { showError } from "../state/toasts";

export function EditorPage({ flowId }: { flowId: string }) {
  const [loaded, setLoaded] = useState<FlowEnvelope | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const ac = new AbortController();
    setError(null);
    api
      .getFlow(flowId, ac.signal)
      .then(setLoaded)
      .catch((e: unknown) => {
        if (isAbort(e)) return;
        const err = toApiError(e);
        setError(err);
        if (err.status !== 404) showError(err, "Loading the flow");
      });
    return () => ac.abort();
  }, [flowId, attempt]);

  if (error) {
    return (
      <div className="page">
        <AppHeader />
        <main className="page-body empty-state" data-testid="editor-load-error">
          <h1>{error.status === 404 ? "Flow not found" : "Cannot open this flow"}</h1>
          <p>
            <strong>{error.title}</strong> {error.detail}
          </p>
          <div className="row-gap">
            <button type="button" className="btn" onClick={() => setAttempt((a) => a + 1)}>
              Retry
            </button>
            <button type="button" className="btn btn-primary" onClick={() => void navigate("/")}>
              All flows
            </button>
          </div>
        </main>
      </div>
    );
  }
  if (!loaded) {
    return (
      <div className="page">
        <AppHeader />
        <main className="page-body empty-state muted" data-testid="editor-loading">
          Loading flow…
        </main>
      </div>
    );
  }
  return (
    <ReactFlowProvider>
      <EditorWorkspace flowId={flowId} initial={loaded} />
    </ReactFlowProvider>
  );
}
