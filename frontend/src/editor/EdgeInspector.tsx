/** A connection: queue thresholds (back-pressure), live queue numbers, and sample records while running. */

import { useCallback, useMemo, type Dispatch } from "react";
import type { Flow, FlowEdge, JsonObject } from "../api/types";
import { Icon } from "../components/Icon";
import { SchemaForm } from "../form/SchemaForm";
import { removeElements } from "../model/edits";
import { settingsFormSchema } from "../model/flowSettings";
import { fillColor, formatBytes, formatCount } from "../model/format";
import { gate } from "../model/permissions";
import { useCatalog } from "../state/catalog";
import { useEdgeIssues, useEdgeMetrics, useRunState } from "../state/editorStores";
import { usePermissions } from "../state/session";
import type { EditorAction } from "./editorState";
import { SamplePanel } from "./SamplePanel";

export function EdgeInspector({ flowId, edge, doc, dispatch }: { flowId: string; edge: FlowEdge; doc: Flow; dispatch: Dispatch<EditorAction> }) {
  const issues = useEdgeIssues(edge.id);
  const metrics = useEdgeMetrics(edge.id);
  const runState = useRunState();
  const editing = usePermissions().edit;
  const { flowSchema } = useCatalog();
  const schema = useMemo(() => settingsFormSchema(flowSchema, "Edge"), [flowSchema]);
  const value = useMemo<JsonObject>(() => ({ settings: { ...edge.settings } }), [edge.settings]);
  // Edge issues name paths inside the edge (`settings.max_batches`); the form matches config-relative paths.
  const formIssues = useMemo(() => issues?.map((i) => ({ ...i, inConfig: true })), [issues]);
  const onChange = useCallback(
    (v: JsonObject, path: string) => {
      const s = (v["settings"] ?? {}) as Record<string, number>;
      dispatch({
        type: "edit",
        update: (f) => ({ ...f, edges: f.edges.map((e) => (e.id === edge.id ? { ...e, settings: s as unknown as FlowEdge["settings"] } : e)) }),
        key: `${edge.id}:${path}`,
      });
    },
    [dispatch, edge.id],
  );
  const src = doc.nodes.find((n) => n.id === edge.source);
  const tgt = doc.nodes.find((n) => n.id === edge.target);
  const unplaced = (issues ?? []).filter((i) => !i.field?.startsWith("settings."));
  return (
    <div className="inspector-edge" data-testid={`inspector-edge-${edge.id}`}>
      <div className="inspector-header">
        <span className="df-node-icon" aria-hidden>
          <Icon name="transform" size={16} />
        </span>
        <div className="inspector-titles">
          <div className="inspector-title">Connection</div>
          <div className="muted small">
            <code>{edge.id}</code>
          </div>
        </div>
        <button type="button" className="icon-btn danger" data-testid="delete-edge" aria-label="Delete connection" {...gate(editing, "Delete connection (Del)")} onClick={() => dispatch({ type: "edit", update: (f) => removeElements(f, [], [edge.id]) })}>
          <Icon name="trash" />
        </button>
      </div>
      <div className="edge-route">
        <button type="button" className="link-btn" onClick={() => dispatch({ type: "select", nodes: [edge.source], edges: [] })}>
          {src?.name || edge.source}
        </button>
        <span className="port-pill">{edge.source_port}</span>
        <Icon name="chevronRight" size={14} />
        <span className="port-pill">{edge.target_port}</span>
        <button type="button" className="link-btn" onClick={() => dispatch({ type: "select", nodes: [edge.target], edges: [] })}>
          {tgt?.name || edge.target}
        </button>
      </div>
      {unplaced.length > 0 ? (
        <ul className="issue-list" data-testid="edge-issues">
          {unplaced.map((i, k) => (
            <li key={k} className={`issue issue-${i.severity}`}>
              <Icon name="alert" size={13} /> <span>{i.message}</span>
            </li>
          ))}
        </ul>
      ) : null}
      <div className="inspector-form">
        {schema ? (
          <SchemaForm schema={schema} uiSchema={{}} value={value} issues={formIssues} idPrefix={`edge-${edge.id}`} readOnly={!editing.allowed} onChange={onChange} />
        ) : (
          <div className="muted small">Loading the connection settings…</div>
        )}
      </div>
      {metrics ? (
        <section className="inspector-section" data-testid="edge-live">
          <div className="section-title">Queue</div>
          <div className="fill-bar" aria-label={`Queue ${(metrics.fill_ratio * 100).toFixed(0)}% full`}>
            <div style={{ width: `${Math.min(100, metrics.fill_ratio * 100)}%`, background: fillColor(metrics.fill_ratio) }} />
          </div>
          <dl className="kv">
            <dt>Queued</dt>
            <dd>
              {metrics.queued_batches}/{metrics.max_batches} batches · {formatBytes(metrics.queued_bytes)} / {formatBytes(metrics.max_bytes)}
            </dd>
            <dt>Back-pressure</dt>
            <dd>{metrics.backpressure_seconds.toFixed(1)} s</dd>
            <dt>Passed</dt>
            <dd>
              {formatCount(metrics.records)} records in {formatCount(metrics.batches)} batches
            </dd>
          </dl>
        </section>
      ) : null}
      <SamplePanel flowId={flowId} edgeId={edge.id} active={runState === "running" || runState === "paused"} />
    </div>
  );
}
