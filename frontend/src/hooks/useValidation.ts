/**
 * Validate the document on the server ~400 ms after each change; publish issues to the node
 * stores. A read-only editor (below the editor role, which validating any document needs)
 * shows the saved flow's report instead: its document is the saved one.
 */

import { useCallback, useEffect, useRef, useState } from "react";
import { api, isAbort, toApiError } from "../api/client";
import type { ErrorDetail, Flow, Issue } from "../api/types";
import type { ValidationStatus } from "../editor/ProblemsPanel";
import { indexIssues, type IssueIndex } from "../model/errorPaths";
import type { EditorStores } from "../state/editorStores";
import { showError } from "../state/toasts";

export const VALIDATE_DEBOUNCE_MS = 400;

export interface Validation {
  index: IssueIndex;
  status: ValidationStatus;
  /** Show errors the server returned elsewhere (a 422 on save) until the next validation. */
  showErrors: (errors: readonly ErrorDetail[], flow: Flow) => void;
}

export function useValidation(doc: Flow, stores: EditorStores, savedFlowId: string | null = null): Validation {
  const [index, setIndex] = useState<IssueIndex>(() => indexIssues([], doc));
  const [status, setStatus] = useState<ValidationStatus>("idle");
  const failures = useRef(0);

  const publish = useCallback(
    (issues: Issue[], flow: Flow) => {
      const idx = indexIssues(issues, flow);
      stores.setIssues(idx);
      setIndex(idx);
    },
    [stores],
  );

  useEffect(() => {
    setStatus("pending");
    const ac = new AbortController();
    const t = setTimeout(() => {
      (savedFlowId === null ? api.validate(doc, ac.signal) : api.savedValidation(savedFlowId, ac.signal))
        .then((r) => {
          failures.current = 0;
          const issues: Issue[] = [
            ...(r.errors ?? []).map((e) => ({ ...e, severity: "error" as const })),
            ...(r.warnings ?? []).map((e) => ({ ...e, severity: "warning" as const })),
          ];
          publish(issues, doc);
          stores.setSchemas(r.schemas ?? {});
          stores.setPorts(r.ports ?? {});
          setStatus("ok");
        })
        .catch((e: unknown) => {
          if (isAbort(e)) return;
          const err = toApiError(e);
          if ((err.status === 400 || err.status === 422) && err.errors.length > 0) {
            // The document does not even decode: those errors are the problems to show.
            publish(err.errors.map((x) => ({ ...x, severity: "error" as const })), doc);
            stores.setSchemas({});
            stores.setPorts({});
            setStatus("ok");
            return;
          }
          failures.current++;
          setStatus("unavailable");
          showError(e, "Validation");
        });
    }, VALIDATE_DEBOUNCE_MS);
    return () => {
      clearTimeout(t);
      ac.abort();
    };
  }, [doc, publish, stores, savedFlowId]);

  const showErrors = useCallback(
    (errors: readonly ErrorDetail[], flow: Flow) => publish(errors.map((e) => ({ ...e, severity: "error" as const })), flow),
    [publish],
  );

  return { index, status, showErrors };
}
