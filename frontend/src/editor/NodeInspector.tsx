/** A node's name and generated config form, its problems, output schema and live numbers. */

import { useCallback, useMemo, useState, type Dispatch } from "react";
import type { Flow, FlowNode, JsonObject } from "../api/types";
import { Icon, processorIconName } from "../components/Icon";
import { SchemaForm } from "../form/SchemaForm";
import { issuesForField } from "../model/errorPaths";
import { removeElements, updateNode } from "../model/edits";
import { formatBytes, formatCount, formatRate } from "../model/format";
import { gate } from "../model/permissions";
import { derivePorts } from "../model/ports";
import { useCatalog } from "../state/catalog";
import { useNodeErrors, useNodeIssues, useNodeMetrics, useNodePorts, useNodeSchema } from "../state/editorStores";
import { usePermissions } from "../state/session";
import type { EditorAction } from "./editorState";
import { ConfigJsonEditor } from "./ConfigJsonEditor";

export function NodeInspector({ node, doc, dispatch }: { node: FlowNode; doc: Flow; dispatch: Dispatch<EditorAction> }) {
  const { byType } = useCatalog();
  const info = byType.get(node.type);
  const issues = useNodeIssues(node.id);
  const schema = useNodeSchema(node.id);
  const metrics = useNodeMetrics(node.id);
  const runtimeErrors = useNodeErrors(node.id);
  const editing = usePermissions().edit;
  const readOnly = !editing.allowed;
  // The user's choice; until they make one, the form once the catalog knows the type (it may
  // still be loading when a node is opened), else the JSON.
  const [chosen, setTab] = useState<"form" | "json" | null>(null);
  const tab = chosen ?? (info ? "form" : "json");
  const declared = useNodePorts(node.id);
  const ports = useMemo(() => derivePorts(info, declared, node.id, doc.edges), [info, declared, node.id, doc.edges]);

  const onConfig = useCallback(
    (config: JsonObject, path: string) => dispatch({ type: "edit", update: (f) => updateNode(f, node.id, { config }), key: `${node.id}:config:${path}` }),
    [dispatch, node.id],
  );

  const topKeys = useMemo(() => new Set(Object.keys(info?.config_schema.properties ?? {})), [info]);
  const nameIssues = issuesForField(issues, "name", false);
  const otherIssues = (issues ?? []).filter((i) => !(i.inConfig && i.field !== undefined && topKeys.has(i.field.split(".")[0] ?? "") && tab === "form") && !(i.field === "name" && !i.inConfig));

  return (
    <div className="inspector-node" data-testid={`inspector-node-${node.id}`}>
      <div className="inspector-header">
        <span className={`df-node-icon cat-${info?.category ?? "unknown"}`} aria-hidden>
          <Icon name={processorIconName(info?.icon, node.type, info?.category)} size={16} />
        </span>
        <div className="inspector-titles">
          <div className="inspector-title">{info?.title ?? node.type}</div>
          <div className="muted small">
            <code>{node.type}</code> · {info?.category ?? "unknown type"}
            {info && info.status !== "stable" ? <span className={`status-tag status-${info.status}`}>{info.status}</span> : null}
          </div>
        </div>
        <button
          type="button"
          className="icon-btn danger"
          data-testid="delete-node"
          aria-label={`Delete node ${node.name || node.id}`}
          {...gate(editing, "Delete node (Del)")}
          onClick={() => dispatch({ type: "edit", update: (f) => removeElements(f, [node.id]) })}
        >
          <Icon name="trash" />
        </button>
      </div>
      {info?.description ? <p className="inspector-desc">{info.description}</p> : null}

      <div className={`form-field${nameIssues.length ? " has-error" : ""}`}>
        <label className="field-label" htmlFor={`name-${node.id}`}>
          Name
        </label>
        <input
          id={`name-${node.id}`}
          className="input"
          data-testid="node-name-input"
          value={node.name}
          placeholder={node.id}
          readOnly={readOnly}
          onChange={(e) => {
            const name = e.target.value;
            dispatch({ type: "edit", update: (f) => updateNode(f, node.id, { name }), key: `${node.id}:name` });
          }}
        />
        <div className="field-help">
          Id <code data-testid="node-id">{node.id}</code>
        </div>
        {nameIssues.length ? (
          <div className="field-error" data-testid="field-error-name">
            {nameIssues.map((i) => i.message).join(" ")}
          </div>
        ) : null}
      </div>

      {otherIssues.length > 0 || (runtimeErrors?.length ?? 0) > 0 ? (
        <ul className="issue-list" data-testid="node-issues">
          {(runtimeErrors ?? []).map((m, i) => (
            <li key={`r${i}`} className="issue issue-error">
              <Icon name="alert" size={13} /> <span>Run error: {m}</span>
            </li>
          ))}
          {otherIssues.map((i, k) => (
            <li key={k} className={`issue issue-${i.severity}`}>
              <Icon name="alert" size={13} />
              <span>
                {i.field ? <code>{i.inConfig ? `config.${i.field}` : i.field}</code> : null} {i.message}
              </span>
            </li>
          ))}
        </ul>
      ) : null}

      <div className="tabs" role="tablist" aria-label="Settings view">
        <button type="button" role="tab" aria-selected={tab === "form"} className={tab === "form" ? "tab active" : "tab"} data-testid="inspector-tab-form" disabled={!info} onClick={() => setTab("form")}>
          Settings
        </button>
        <button type="button" role="tab" aria-selected={tab === "json"} className={tab === "json" ? "tab active" : "tab"} data-testid="inspector-tab-json" onClick={() => setTab("json")}>
          JSON
        </button>
      </div>
      <div className="inspector-form">
        {tab === "form" && info ? (
          <SchemaForm schema={info.config_schema} uiSchema={info.ui_schema} value={node.config} issues={issues} idPrefix={`cfg-${node.id}`} ownerId={node.id} readOnly={readOnly} onChange={onConfig} />
        ) : (
          <ConfigJsonEditor config={node.config} readOnly={readOnly} onApply={(config) => onConfig(config, "__json")} />
        )}
      </div>

      <section className="inspector-section">
        <div className="section-title">Ports</div>
        <div className="ports-summary">
          <div>
            <span className="muted">in:</span> {ports.inputs.map((p) => p.name).join(", ") || "—"}
          </div>
          <div>
            <span className="muted">out:</span> {ports.outputs.map((p) => p.name).join(", ") || "—"}
          </div>
        </div>
      </section>

      {schema && Object.keys(schema).length > 0 ? (
        <section className="inspector-section" data-testid="node-schema">
          <div className="section-title">Output schema</div>
          {Object.entries(schema).map(([port, cols]) => (
            <div key={port} className="schema-port">
              <div className="muted small">{port}</div>
              <table className="table compact">
                <tbody>
                  {cols.map((c) => (
                    <tr key={c.name}>
                      <td>
                        <code>{c.name}</code>
                      </td>
                      <td className="muted">{c.type}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ))}
        </section>
      ) : null}

      {metrics ? (
        <section className="inspector-section" data-testid="node-live">
          <div className="section-title">Live</div>
          <dl className="kv">
            <dt>Records in</dt>
            <dd>{Object.entries(metrics.records_in).map(([p, n]) => `${p}: ${formatCount(n)}`).join(", ") || "0"}</dd>
            <dt>Records out</dt>
            <dd>{Object.entries(metrics.records_out).map(([p, n]) => `${p}: ${formatCount(n)}`).join(", ") || "0"}</dd>
            <dt>Rate</dt>
            <dd>
              {`${formatRate(metrics.records_in_per_second)} in / ${formatRate(metrics.records_out_per_second)} out`}
            </dd>
            {metrics.state ? (
              <>
                <dt>State</dt>
                <dd data-testid="node-state">{metrics.state}</dd>
              </>
            ) : null}
            <dt>Batches</dt>
            <dd>
              {formatCount(metrics.batches_in)} in / {formatCount(metrics.batches_out)} out
            </dd>
            <dt>Bytes</dt>
            <dd>
              {formatBytes(metrics.bytes_in)} in / {formatBytes(metrics.bytes_out)} out
            </dd>
            <dt>Busy</dt>
            <dd>{metrics.busy_seconds.toFixed(1)} s</dd>
            <dt>Errors</dt>
            <dd className={metrics.errors ? "text-error" : undefined}>
              {formatCount(metrics.errors)}
              {metrics.retries ? ` (${formatCount(metrics.retries)} retries)` : ""}
            </dd>
            {metrics.discarded_records ? (
              <>
                <dt>Discarded</dt>
                <dd title="Records emitted on an output port that has no connection">{formatCount(metrics.discarded_records)}</dd>
              </>
            ) : null}
            {metrics.last_error ? (
              <>
                <dt>Last error</dt>
                <dd className="text-error">{metrics.last_error}</dd>
              </>
            ) : null}
          </dl>
        </section>
      ) : null}
    </div>
  );
}
