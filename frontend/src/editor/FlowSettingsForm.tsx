/** The flow's run settings (`settings` of the document), a form generated from the served flow schema. */

import { useCallback, useMemo, type Dispatch } from "react";
import type { Flow, FlowSettings, JsonObject } from "../api/types";
import { SchemaForm } from "../form/SchemaForm";
import type { IssueIndex } from "../model/errorPaths";
import { settingsFieldPaths, settingsFormSchema, settingsIssues } from "../model/flowSettings";
import { useCatalog } from "../state/catalog";
import type { EditorAction } from "./editorState";

export function FlowSettingsForm({ doc, dispatch, issues, readOnly = false }: { doc: Flow; dispatch: Dispatch<EditorAction>; issues: IssueIndex; readOnly?: boolean }) {
  const { flowSchema } = useCatalog();
  const schema = useMemo(() => settingsFormSchema(flowSchema, "Flow"), [flowSchema]);
  const fieldPaths = useMemo(() => settingsFieldPaths(schema), [schema]);
  const found = useMemo(() => settingsIssues(issues, fieldPaths), [issues, fieldPaths]);
  const value = useMemo<JsonObject>(() => ({ settings: { ...doc.settings } }), [doc.settings]);
  const onChange = useCallback(
    (v: JsonObject, path: string) => {
      const settings = (v["settings"] ?? {}) as unknown as FlowSettings;
      dispatch({ type: "edit", update: (f) => ({ ...f, settings }), key: `flow:${path}` });
    },
    [dispatch],
  );

  return (
    <section className="flow-settings" data-testid="flow-settings" aria-label="Run settings">
      {found.other.length > 0 ? (
        <ul className="issue-list" data-testid="flow-settings-issues">
          {found.other.map((i, k) => (
            <li key={k} className={`issue issue-${i.severity}`}>
              <span>
                <code>{i.path}</code>: {i.message}
              </span>
            </li>
          ))}
        </ul>
      ) : null}
      {schema ? (
        <SchemaForm schema={schema} uiSchema={{}} value={value} issues={found.fields} idPrefix="flow-settings" readOnly={readOnly} onChange={onChange} />
      ) : (
        <div className="muted small">Loading the run settings…</div>
      )}
      {found.nodes.map((i) => (
        <button key={i.nodeId} type="button" className="link-btn" data-testid={`settings-issue-node-${i.nodeId}`} onClick={() => dispatch({ type: "select", nodes: [i.nodeId!], edges: [] })}>
          Show node {i.nodeId}
        </button>
      ))}
    </section>
  );
}
