/** Route `/`: all flows, with create, open, import (file pick or drop), export and delete. */

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, ApiError, isAbort, toApiError } from "../api/client";
import { getSession } from "../api/session";
import type { FlowSummary } from "../api/types";
import { AppHeader } from "../components/AppHeader";
import { useDialogs } from "../components/Dialogs";
import { Icon } from "../components/Icon";
import { ImportErrors } from "../components/ImportErrors";
import { StateChip } from "../components/StateChip";
import { downloadText } from "../lib/download";
import { emptyFlow } from "../model/edits";
import { formatRelative, formatTime } from "../model/format";
import { gate } from "../model/permissions";
import { navigate } from "../router";
import { usePermissions } from "../state/session";
import { showError, showSuccess } from "../state/toasts";

const POLL_MS = 5000;

export function FlowListPage() {
  const [flows, setFlows] = useState<FlowSummary[] | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [filter, setFilter] = useState("");
  const [dragging, setDragging] = useState(false);
  const [importError, setImportError] = useState<{ file: string; error: ApiError } | null>(null);
  const [highlight, setHighlight] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const dragDepth = useRef(0);
  const { confirm, prompt } = useDialogs();
  const editing = usePermissions().edit;

  const load = useCallback(async (signal?: AbortSignal, quiet = false) => {
    try {
      const list = await api.listFlows(signal);
      setFlows(list);
      setLoadError(null);
    } catch (e) {
      if (isAbort(e)) return;
      const err = toApiError(e);
      setLoadError(err);
      if (!quiet) showError(err, "Loading flows");
    }
  }, []);

  useEffect(() => {
    const ac = new AbortController();
    void load(ac.signal);
    const t = setInterval(() => {
      // Not while the sign-in form covers the page: the call would only wait for it.
      if (document.visibilityState === "visible" && getSession().status === "signed-in") void load(ac.signal, true);
    }, POLL_MS);
    return () => {
      ac.abort();
      clearInterval(t);
    };
  }, [load]);

  useEffect(() => {
    document.title = "Flows · DataFlow";
  }, []);

  const createFlow = async () => {
    const name = await prompt({
      title: "New flow",
      label: "Flow name",
      placeholder: "e.g. orders-to-warehouse",
      okLabel: "Create",
      validate: (v) => (v.trim() ? (v.trim().length > 200 ? "At most 200 characters." : null) : "A flow needs a name."),
    });
    if (name === null) return;
    try {
      const env = await api.createFlow(emptyFlow(name.trim()));
      await navigate(`/flows/${encodeURIComponent(env.flow.id)}`);
    } catch (e) {
      showError(e, "Creating the flow");
    }
  };

  const importFile = async (file: File) => {
    setImportError(null);
    let text: string;
    try {
      text = await file.text();
    } catch (e) {
      setImportError({ file: file.name, error: toApiError(e, "Cannot read the file") });
      return;
    }
    try {
      const env = await api.importFlow(text);
      const note = env.flow.id ? `as “${env.flow.name}” (id ${env.flow.id}, version ${env.version})` : "";
      showSuccess(`Imported ${file.name}`, note);
      setHighlight(env.flow.id);
      await load();
    } catch (e) {
      const err = toApiError(e);
      setImportError({ file: file.name, error: err });
      showError(err, `Importing ${file.name}`);
    }
  };

  const exportFlow = async (f: FlowSummary) => {
    try {
      const { text, filename } = await api.exportFlow(f.id);
      downloadText(filename, text);
    } catch (e) {
      showError(e, `Exporting “${f.name}”`);
    }
  };

  const deleteFlow = async (f: FlowSummary) => {
    const ok = await confirm({
      title: "Delete flow?",
      message: (
        <>
          Delete <strong>{f.name}</strong> ({f.id}) and its whole version history? This cannot be undone.
        </>
      ),
      okLabel: "Delete",
      danger: true,
    });
    if (!ok) return;
    try {
      await api.deleteFlow(f.id);
      showSuccess(`Deleted “${f.name}”`);
      setFlows((list) => list?.filter((x) => x.id !== f.id) ?? null);
      await load();
    } catch (e) {
      showError(e, `Deleting “${f.name}”`);
    }
  };

  const open = (f: FlowSummary) => void navigate(`/flows/${encodeURIComponent(f.id)}`);

  const visible = useMemo(() => {
    const q = filter.trim().toLowerCase();
    const list = [...(flows ?? [])].sort((a, b) => b.updated_at - a.updated_at);
    return q ? list.filter((f) => `${f.name} ${f.id} ${f.description}`.toLowerCase().includes(q)) : list;
  }, [flows, filter]);

  // Dropping a file imports it: only for those who may import.
  const hasFiles = (e: React.DragEvent) => editing.allowed && [...e.dataTransfer.types].includes("Files");

  return (
    <div
      className="page"
      data-testid="flow-list-page"
      onDragEnter={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        dragDepth.current++;
        setDragging(true);
      }}
      onDragOver={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = "copy";
      }}
      onDragLeave={(e) => {
        if (!hasFiles(e)) return;
        dragDepth.current = Math.max(0, dragDepth.current - 1);
        if (dragDepth.current === 0) setDragging(false);
      }}
      onDrop={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        dragDepth.current = 0;
        setDragging(false);
        const file = e.dataTransfer.files[0];
        if (file) void importFile(file);
      }}
    >
      <AppHeader>
        <span className="header-title">Flows</span>
      </AppHeader>
      <main className="page-body list-page">
        <div className="list-toolbar">
          <div className="search-box">
            <Icon name="search" size={14} />
            <input
              className="input"
              type="search"
              placeholder="Filter flows by name or id"
              aria-label="Filter flows"
              data-testid="flow-search"
              value={filter}
              onChange={(e) => setFilter(e.target.value)}
            />
          </div>
          <div className="spacer" />
          <button type="button" className="btn" data-testid="refresh-flows" aria-label="Refresh the list" onClick={() => void load()}>
            <Icon name="refresh" size={14} /> Refresh
          </button>
          <button type="button" className="btn" data-testid="import-flow" {...gate(editing, "Import a flow JSON file")} onClick={() => fileInput.current?.click()}>
            <Icon name="upload" size={14} /> Import…
          </button>
          <input
            ref={fileInput}
            type="file"
            accept=".json,application/json"
            hidden
            data-testid="import-input"
            aria-label="Flow JSON file to import"
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = "";
              if (file) void importFile(file);
            }}
          />
          <button type="button" className="btn btn-primary" data-testid="new-flow" {...gate(editing)} onClick={() => void createFlow()}>
            <Icon name="plus" size={14} /> New flow
          </button>
        </div>

        {importError ? <ImportErrors file={importError.file} error={importError.error} onDismiss={() => setImportError(null)} /> : null}

        {loadError && flows === null ? (
          <div className="banner banner-error" role="alert" data-testid="load-error">
            <strong>{loadError.title}</strong> {loadError.detail}
            <button type="button" className="btn btn-small" onClick={() => void load()}>
              Retry
            </button>
          </div>
        ) : null}

        <div className="table-wrap">
          <table className="table flow-table" data-testid="flow-list">
            <thead>
              <tr>
                <th>Name</th>
                <th>State</th>
                <th className="num">Version</th>
                <th className="num">Nodes</th>
                <th>Last change</th>
                <th className="actions-col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {visible.map((f) => (
                <tr
                  key={f.id}
                  data-testid={`flow-row-${f.id}`}
                  className={highlight === f.id ? "row-highlight" : undefined}
                  onDoubleClick={() => open(f)}
                >
                  <td>
                    <a
                      href={`/flows/${encodeURIComponent(f.id)}`}
                      className="flow-link"
                      data-testid={`open-flow-${f.id}`}
                      onClick={(e) => {
                        e.preventDefault();
                        open(f);
                      }}
                    >
                      {f.name}
                    </a>
                    <div className="muted small">
                      <code>{f.id}</code>
                      {f.description ? ` · ${f.description}` : ""}
                    </div>
                  </td>
                  <td>
                    <StateChip state={f.state} testId={`flow-state-${f.id}`} />
                  </td>
                  <td className="num">v{f.version}</td>
                  <td className="num">
                    {f.node_count}
                    <span className="muted small"> / {f.edge_count} edges</span>
                  </td>
                  <td title={formatTime(f.updated_at)}>{formatRelative(f.updated_at)}</td>
                  <td className="row-actions">
                    <button type="button" className="btn btn-small" data-testid={`open-${f.id}`} aria-label={`Open ${f.name}`} onClick={() => open(f)}>
                      Open
                    </button>
                    <button type="button" className="icon-btn" data-testid={`export-flow-${f.id}`} aria-label={`Export ${f.name} as JSON`} title="Export JSON" onClick={() => void exportFlow(f)}>
                      <Icon name="download" />
                    </button>
                    <button type="button" className="icon-btn danger" data-testid={`delete-flow-${f.id}`} aria-label={`Delete ${f.name}`} {...gate(editing, "Delete")} onClick={() => void deleteFlow(f)}>
                      <Icon name="trash" />
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {flows !== null && flows.length === 0 ? (
            <div className="empty-state" data-testid="flow-list-empty">
              <Icon name="flow" size={36} />
              <h2>No flows yet</h2>
              <p>
                {editing.allowed
                  ? "Create a flow and draw it on the canvas, or import a flow JSON file (drop it anywhere on this page)."
                  : `Creating and importing flows ${editing.reason}.`}
              </p>
              <div className="row-gap">
                <button type="button" className="btn btn-primary" {...gate(editing)} onClick={() => void createFlow()}>
                  <Icon name="plus" size={14} /> New flow
                </button>
                <button type="button" className="btn" {...gate(editing)} onClick={() => fileInput.current?.click()}>
                  <Icon name="upload" size={14} /> Import…
                </button>
              </div>
            </div>
          ) : null}
          {flows !== null && flows.length > 0 && visible.length === 0 ? <div className="empty-state small">No flow matches “{filter}”.</div> : null}
          {flows === null && !loadError ? <div className="empty-state small">Loading…</div> : null}
        </div>
      </main>
      {dragging ? (
        <div className="drop-overlay" data-testid="drop-overlay">
          <div>
            <Icon name="upload" size={32} />
            <div>Drop a flow JSON file to import it</div>
          </div>
        </div>
      ) : null}
    </div>
  );
}
