/** Nothing selected: the flow's name, description and run settings, and how to get started. */

import type { Dispatch } from "react";
import type { Flow } from "../api/types";
import type { IssueIndex } from "../model/errorPaths";
import type { EditorAction } from "./editorState";
import { usePermissions } from "../state/session";
import { FlowSettingsForm } from "./FlowSettingsForm";

export function FlowInspector({ doc, dispatch, issues }: { doc: Flow; dispatch: Dispatch<EditorAction>; issues: IssueIndex }) {
  const nameIssues = issues.flow.filter((i) => i.field === "name");
  const editing = usePermissions().edit;
  const readOnly = !editing.allowed;
  return (
    <div className="inspector-section">
      <div className="panel-title">Flow</div>
      <div className={`form-field${nameIssues.length ? " has-error" : ""}`}>
        <label className="field-label" htmlFor="flow-name">
          Name<span className="req">*</span>
        </label>
        <input
          id="flow-name"
          className="input"
          data-testid="flow-name-input"
          value={doc.name}
          maxLength={200}
          readOnly={readOnly}
          onChange={(e) => {
            const name = e.target.value;
            dispatch({ type: "edit", update: (f) => ({ ...f, name }), key: "flow:name" });
          }}
        />
        {nameIssues.length ? (
          <div className="field-error" data-testid="field-error-flow-name">
            {nameIssues.map((i) => i.message).join(" ")}
          </div>
        ) : null}
      </div>
      <div className="form-field">
        <label className="field-label" htmlFor="flow-description">
          Description
        </label>
        <textarea
          id="flow-description"
          className="input"
          rows={3}
          data-testid="flow-description-input"
          value={doc.description}
          readOnly={readOnly}
          onChange={(e) => {
            const description = e.target.value;
            dispatch({ type: "edit", update: (f) => ({ ...f, description }), key: "flow:description" });
          }}
        />
      </div>
      <FlowSettingsForm doc={doc} dispatch={dispatch} issues={issues} readOnly={readOnly} />
      <dl className="kv">
        <dt>Id</dt>
        <dd>
          <code>{doc.id}</code>
        </dd>
        <dt>Nodes</dt>
        <dd>{doc.nodes.length}</dd>
        <dt>Connections</dt>
        <dd>{doc.edges.length}</dd>
        <dt>Problems</dt>
        <dd>
          {issues.errorCount} error{issues.errorCount === 1 ? "" : "s"}, {issues.warningCount} warning{issues.warningCount === 1 ? "" : "s"}
        </dd>
      </dl>
      <div className="tips muted small">
        {readOnly ? (
          <p data-testid="flow-read-only">Read-only: editing this flow {editing.reason}. Select a node or a connection to see its properties.</p>
        ) : (
          <>
            <p>Select a node or a connection to edit its properties.</p>
            <p>Drag processors from the palette; connect an output port (right) to an input port (left).</p>
          </>
        )}
      </div>
    </div>
  );
}
