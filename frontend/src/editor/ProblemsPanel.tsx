/** Every validation error and warning; a click selects the node or connection it is about. */

import { memo } from "react";
import type { Flow } from "../api/types";
import { Icon } from "../components/Icon";
import type { IssueIndex, LocatedIssue } from "../model/errorPaths";

export type ValidationStatus = "idle" | "pending" | "ok" | "unavailable";

function where(i: LocatedIssue, doc: Flow): string {
  if (i.nodeId) {
    const n = doc.nodes.find((x) => x.id === i.nodeId);
    return n ? `${n.name || n.id}` : i.nodeId;
  }
  if (i.edgeId) {
    const e = doc.edges.find((x) => x.id === i.edgeId);
    return e ? `${e.source}.${e.source_port} → ${e.target}.${e.target_port}` : i.edgeId;
  }
  return "Flow";
}

function ProblemsPanelImpl({ issues, doc, status, onFocus }: { issues: IssueIndex; doc: Flow; status: ValidationStatus; onFocus: (i: LocatedIssue) => void }) {
  return (
    <div className="problems" data-testid="problems" data-errors={issues.errorCount} data-warnings={issues.warningCount}>
      {status === "unavailable" ? (
        <div className="banner banner-warning small">Validation is unavailable (see the notification); problems below may be out of date.</div>
      ) : null}
      {issues.all.length === 0 ? (
        <div className="muted small pad" data-testid="problems-empty">
          {status === "pending" ? "Validating…" : "No problems found."}
        </div>
      ) : (
        <table className="table compact problems-table">
          <thead>
            <tr>
              <th aria-label="Severity" />
              <th>Where</th>
              <th>Field</th>
              <th>Problem</th>
              <th>Code</th>
            </tr>
          </thead>
          <tbody>
            {[...issues.all]
              .sort((a, b) => (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1))
              .map((i, k) => (
                <tr
                  key={k}
                  className={`problem problem-${i.severity}`}
                  data-testid={`problem-${k}`}
                  data-node-id={i.nodeId}
                  data-edge-id={i.edgeId}
                  tabIndex={0}
                  onClick={() => onFocus(i)}
                  onKeyDown={(e) => e.key === "Enter" && onFocus(i)}
                >
                  <td className={`sev sev-${i.severity}`}>
                    <Icon name="alert" size={13} title={i.severity} />
                  </td>
                  <td>{where(i, doc)}</td>
                  <td>
                    {i.field ? <code>{i.inConfig ? `config.${i.field}` : i.field}</code> : <span className="muted">—</span>}
                  </td>
                  <td>{i.message}</td>
                  <td className="muted">{i.code}</td>
                </tr>
              ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export const ProblemsPanel = memo(ProblemsPanelImpl);
