/** The flow's run settings (`settings` of the document): delivery guarantee and checkpoint interval. */

import { useEffect, useState, type Dispatch } from "react";
import type { Delivery, Flow } from "../api/types";
import { CHECKPOINT_INTERVAL_BOUNDS } from "../api/types";
import type { IssueIndex, LocatedIssue } from "../model/errorPaths";
import { updateFlowSettings } from "../model/edits";
import { DELIVERY_FIELD as DELIVERY, DELIVERY_OPTIONS, INTERVAL_FIELD as INTERVAL, intervalError, settingsIssues } from "../model/flowSettings";
import type { EditorAction } from "./editorState";

const { exclusiveMinimum: MIN, maximum: MAX } = CHECKPOINT_INTERVAL_BOUNDS;

function IssueLines({ issues, path, onSelectNode }: { issues: LocatedIssue[]; path: string; onSelectNode: (id: string) => void }) {
  const errors = issues.filter((i) => i.severity !== "warning");
  const warnings = issues.filter((i) => i.severity === "warning");
  const line = (i: LocatedIssue, k: number) => (
    <div key={k}>
      {i.message}
      {i.nodeId ? (
        <>
          {" "}
          <button type="button" className="link-btn" data-testid={`settings-issue-node-${i.nodeId}`} onClick={() => onSelectNode(i.nodeId!)}>
            Show node
          </button>
        </>
      ) : null}
    </div>
  );
  return (
    <>
      {errors.length > 0 ? (
        <div className="field-error" data-testid={`field-error-${path}`} role="alert">
          {errors.map(line)}
        </div>
      ) : null}
      {warnings.length > 0 ? (
        <div className="field-warning" data-testid={`field-warning-${path}`}>
          {warnings.map(line)}
        </div>
      ) : null}
    </>
  );
}

export function FlowSettingsForm({ doc, dispatch, issues }: { doc: Flow; dispatch: Dispatch<EditorAction>; issues: IssueIndex }) {
  const { delivery, checkpoint_interval_seconds: interval } = doc.settings;
  const found = settingsIssues(issues);
  const selectNode = (id: string) => dispatch({ type: "select", nodes: [id], edges: [] });

  // The typed text, kept while it is not a valid number yet; follows the document (undo, reload).
  const external = String(interval);
  const [text, setText] = useState(external);
  useEffect(() => {
    setText((t) => (t.trim() !== "" && Number(t) === Number(external) ? t : external));
  }, [external]);
  const localError = intervalError(text);
  const deliveryErrors = found.delivery.some((i) => i.severity !== "warning");
  const intervalErrors = found.interval.some((i) => i.severity !== "warning");
  const known = DELIVERY_OPTIONS.some((o) => o.value === delivery);

  return (
    <section className="flow-settings" data-testid="flow-settings" aria-label="Run settings">
      <div className="section-title">Run settings</div>
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

      <div className={`form-field${deliveryErrors ? " has-error" : ""}`} data-field={DELIVERY}>
        <div className="field-head">
          <label className="field-label" htmlFor="flow-settings-delivery">
            Delivery
          </label>
        </div>
        <div className="field-control">
          <select
            id="flow-settings-delivery"
            className="input select"
            data-testid={`field-${DELIVERY}`}
            value={delivery}
            aria-invalid={deliveryErrors || undefined}
            onChange={(e) => {
              const value = e.target.value as Delivery;
              dispatch({ type: "edit", update: (f) => updateFlowSettings(f, { delivery: value }) });
            }}
          >
            {DELIVERY_OPTIONS.map((o) => (
              <option key={o.value} value={o.value} title={o.help}>
                {o.label}
              </option>
            ))}
            {!known ? (
              <option value={delivery} disabled>
                {`unknown: ${String(delivery)}`}
              </option>
            ) : null}
          </select>
        </div>
        <ul className="field-help delivery-help">
          {DELIVERY_OPTIONS.map((o) => (
            <li key={o.value} className={o.value === delivery ? "current" : undefined}>
              <b>{o.label}</b>: {o.help}
            </li>
          ))}
        </ul>
        <IssueLines issues={found.delivery} path={DELIVERY} onSelectNode={selectNode} />
      </div>

      <div className={`form-field${intervalErrors || localError ? " has-error" : ""}`} data-field={INTERVAL}>
        <div className="field-head">
          <label className="field-label" htmlFor="flow-settings-interval">
            Checkpoint every (s)
          </label>
          <span className="field-hint">
            &gt; {MIN}, ≤ {MAX}
          </span>
        </div>
        <div className="field-control">
          <input
            id="flow-settings-interval"
            className="input input-number"
            type="number"
            inputMode="decimal"
            data-testid={`field-${INTERVAL}`}
            min={MIN}
            max={MAX}
            step="any"
            value={text}
            aria-invalid={intervalErrors || !!localError || undefined}
            onChange={(e) => {
              const t = e.target.value;
              setText(t);
              const n = Number(t);
              // Any number goes into the document (out of range ones too: validation names them);
              // an empty field leaves the document as it is.
              if (t.trim() !== "" && Number.isFinite(n)) {
                dispatch({ type: "edit", update: (f) => updateFlowSettings(f, { checkpoint_interval_seconds: n }), key: `flow:${INTERVAL}` });
              }
            }}
          />
        </div>
        <div className="field-help">How often a checkpoint records where a restart resumes.</div>
        {localError && !intervalErrors ? (
          <div className="field-error" data-testid={`field-local-error-${INTERVAL}`}>
            {localError}
          </div>
        ) : null}
        <IssueLines issues={found.interval} path={INTERVAL} onSelectNode={selectNode} />
      </div>
    </section>
  );
}
