/** The editor: wires the document state, validation, save/versions, run connection and panels together. */

import { useReactFlow } from "@xyflow/react";
import { useCallback, useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from "react";
import { api, toApiError, type RunAction } from "../api/client";
import type { ConflictBody, FlowEnvelope, ProcessorInfo } from "../api/types";
import { useDialogs } from "../components/Dialogs";
import { useEditorShortcuts } from "../hooks/useEditorShortcuts";
import { useRunConnection } from "../hooks/useRunConnection";
import { useUnsavedGuard } from "../hooks/useUnsavedGuard";
import { useValidation } from "../hooks/useValidation";
import { downloadText } from "../lib/download";
import { copySelection, pasteClipboard } from "../model/clipboard";
import { addNode, makeNode, moveNodes, removeElements } from "../model/edits";
import type { LocatedIssue } from "../model/errorPaths";
import type { FlowRfEdge, ProcessorRfNode } from "../model/graph";
import { canRedo, canUndo } from "../model/history";
import { autoLayout } from "../model/layout";
import { derivePorts, type UsedPorts } from "../model/ports";
import { navigate } from "../router";
import { useCatalog } from "../state/catalog";
import { EditorStores, EditorStoresContext } from "../state/editorStores";
import { usePermissions } from "../state/session";
import { showError, showInfo, showSuccess, showWarning } from "../state/toasts";
import { BottomDock, type DockTab } from "./BottomDock";
import { Canvas } from "./Canvas";
import { getClipboard, nextPasteOffset, setClipboard } from "./clipboardStore";
import { ConflictDialog } from "./ConflictDialog";
import { EditorActionsContext, type EditorActions } from "./editorActions";
import { editorReducer, initEditorState, isDirty } from "./editorState";
import { EditorToolbar } from "./EditorToolbar";
import { EventsPanel } from "./EventsPanel";
import { HelpDialog } from "./HelpDialog";
import { Inspector } from "./Inspector";
import { Palette } from "./Palette";
import { ProblemsPanel } from "./ProblemsPanel";
import { RunControls } from "./RunControls";
import { VersionsPanel } from "./VersionsPanel";

const FIT = { padding: 0.2, maxZoom: 1.2, duration: 300 };

export function EditorWorkspace({ flowId, initial }: { flowId: string; initial: FlowEnvelope }) {
  const [state, dispatch] = useReducer(editorReducer, initial, (env) => initEditorState(env.flow, env.version));
  const stateRef = useRef(state);
  stateRef.current = state;
  const stores = useMemo(() => new EditorStores(), []);
  const rf = useReactFlow<ProcessorRfNode, FlowRfEdge>();
  const { byType } = useCatalog();
  const { confirm } = useDialogs();
  const doc = state.history.present;
  const dirty = isDirty(state);
  // Below the editor role the flow is shown as saved: no gesture, form or shortcut changes it.
  const editing = usePermissions().edit;
  const readOnly = !editing.allowed;

  const [saving, setSaving] = useState(false);
  const savingRef = useRef(false);
  const [conflict, setConflict] = useState<{ body: ConflictBody; expected: number } | null>(null);
  const [help, setHelp] = useState(false);
  const [dockTab, setDockTab] = useState<DockTab>("problems");
  const [dockOpen, setDockOpen] = useState(true);
  const [eventsKey, bumpEvents] = useReducer((x: number) => x + 1, 0);

  // Ports used by edges, per node: nodes keep showing ports an edge still references.
  useLayoutEffect(() => {
    const used = new Map<string, { inputs: string[]; outputs: string[] }>();
    for (const n of doc.nodes) used.set(n.id, { inputs: [], outputs: [] });
    for (const e of doc.edges) {
      const s = used.get(e.source);
      if (s && !s.outputs.includes(e.source_port)) s.outputs.push(e.source_port);
      const t = used.get(e.target);
      if (t && !t.inputs.includes(e.target_port)) t.inputs.push(e.target_port);
    }
    stores.usedPorts.replaceAll(used as Map<string, UsedPorts>);
  }, [doc.nodes, doc.edges, stores]);

  const validation = useValidation(doc, stores, readOnly ? flowId : null);
  const runConn = useRunConnection(flowId, stores, bumpEvents);
  useUnsavedGuard(dirty);

  useEffect(() => {
    document.title = `${dirty ? "● " : ""}${doc.name || flowId} · DataFlow`;
  }, [dirty, doc.name, flowId]);

  /* ------------------------------------------------------------------ save */

  const save = useCallback(
    async (expectedOverride?: number): Promise<boolean> => {
      if (savingRef.current || readOnly) return false;
      const s = stateRef.current;
      if (expectedOverride === undefined && !isDirty(s)) {
        showInfo("Nothing to save", `v${s.version} is up to date.`);
        return true;
      }
      savingRef.current = true;
      setSaving(true);
      const sent = s.history.present;
      const expected = expectedOverride ?? s.version;
      try {
        const r = await api.saveFlow(flowId, sent, expected);
        dispatch({ type: "saved", flow: r.flow, version: r.version, sent });
        if (r.merged) showInfo(`Saved as v${r.version}`, "Merged with changes someone else saved meanwhile.");
        else showSuccess(r.changed === false ? `No changes (v${r.version})` : `Saved v${r.version}`);
        bumpEvents();
        return true;
      } catch (e) {
        const err = toApiError(e);
        const c = err.conflict;
        if (c) setConflict({ body: c, expected });
        else {
          if (err.errors.length) validation.showErrors(err.errors, sent);
          showError(err, "Save failed");
        }
        return false;
      } finally {
        savingRef.current = false;
        setSaving(false);
      }
    },
    [flowId, validation, readOnly],
  );

  const reloadTheirs = useCallback(async () => {
    setConflict(null);
    try {
      const env = await api.getFlow(flowId);
      dispatch({ type: "loaded", flow: env.flow, version: env.version, asEdit: true });
      showInfo(`Loaded v${env.version}`, "Your edits were replaced; Ctrl+Z brings them back.");
    } catch (e) {
      showError(e, "Reloading the flow");
    }
  }, [flowId]);

  const revert = useCallback(
    async (version: number) => {
      const ok = await confirm({
        title: `Revert to v${version}?`,
        message: isDirty(stateRef.current)
          ? `Your unsaved changes will be lost. The flow becomes v${version} again, recorded as a new version.`
          : `The flow becomes v${version} again, recorded as a new version. Earlier versions stay in the history.`,
        okLabel: "Revert",
        danger: true,
      });
      if (!ok) return;
      try {
        const env = await api.revert(flowId, version);
        dispatch({ type: "loaded", flow: env.flow, version: env.version, asEdit: true });
        bumpEvents();
        showSuccess(`Reverted to v${version}`, `Now at v${env.version}.`);
      } catch (e) {
        showError(e, "Revert failed");
      }
    },
    [confirm, flowId],
  );

  const exportFlow = useCallback(async () => {
    try {
      const { text, filename } = await api.exportFlow(flowId);
      downloadText(filename, text);
      if (isDirty(stateRef.current)) showWarning("Exported the saved version", "Unsaved changes are not in the file: save first to include them.");
    } catch (e) {
      showError(e, "Export failed");
    }
  }, [flowId]);

  /* -------------------------------------------------------------------- run */

  const onRunAction = useCallback(
    async (a: RunAction, force?: boolean) => {
      if (a === "start" && isDirty(stateRef.current)) {
        if (!(await save())) return;
      }
      if (a === "stop" && force) {
        const ok = await confirm({ title: "Force stop?", message: "Stop without waiting for in-flight batches to drain.", okLabel: "Force stop", danger: true });
        if (!ok) return;
      }
      await runConn.action(a, force);
    },
    [confirm, runConn, save],
  );

  /* ------------------------------------------------------------ canvas ops */

  const fit = useCallback(() => void rf.fitView(FIT), [rf]);

  const layout = useCallback(async () => {
    const s = stateRef.current;
    const f = s.history.present;
    if (f.nodes.length === 0) return;
    const byId = new Map(f.nodes.map((n) => [n.id, n]));
    try {
      const positions = await autoLayout(f, s.view.measured, (id) => {
        const n = byId.get(id)!;
        return derivePorts(byType.get(n.type), stores.nodePorts.get(id), id, f.edges);
      });
      dispatch({ type: "edit", update: (cur) => moveNodes(cur, positions) });
      setFitRequest((n) => n + 1);
    } catch (e) {
      showError(e, "Auto-layout failed");
    }
  }, [byType, stores]);

  // Fit after React Flow has the new positions (its store updates in a child effect, before this one).
  const [fitRequest, setFitRequest] = useState(0);
  useEffect(() => {
    if (fitRequest > 0) void rf.fitView(FIT);
  }, [fitRequest, rf]);

  const addAtCenter = useCallback(
    (info: ProcessorInfo) => {
      const el = document.querySelector<HTMLElement>("[data-testid='canvas']");
      const r = el?.getBoundingClientRect();
      const p = r ? rf.screenToFlowPosition({ x: r.left + r.width / 2, y: r.top + r.height / 2 }) : { x: 0, y: 0 };
      const f = stateRef.current.history.present;
      const jitter = (f.nodes.length % 5) * 24;
      const node = makeNode(f, info, { x: Math.round((p.x - 100 + jitter) / 8) * 8, y: Math.round((p.y - 24 + jitter) / 8) * 8 });
      dispatch({ type: "edit", update: (cur) => (cur.nodes.some((n) => n.id === node.id) ? cur : addNode(cur, node)), select: { nodes: [node.id], edges: [] } });
    },
    [rf],
  );

  const copy = useCallback(() => {
    const s = stateRef.current;
    const clip = copySelection(s.history.present, s.view.selectedNodes);
    if (clip) setClipboard(clip);
    return clip;
  }, []);

  const paste = useCallback(() => {
    const clip = getClipboard();
    if (!clip) return;
    const base = stateRef.current.history.present;
    const offset = nextPasteOffset();
    const r = pasteClipboard(base, clip, offset);
    dispatch({ type: "edit", update: (f) => (f === base ? r.flow : pasteClipboard(f, clip, offset).flow), select: { nodes: r.nodeIds, edges: r.edgeIds } });
  }, []);

  const cut = useCallback(() => {
    const clip = copy();
    if (!clip) return;
    const ids = clip.nodes.map((n) => n.id);
    dispatch({ type: "edit", update: (f) => removeElements(f, ids) });
  }, [copy]);

  const ifEditing = (fn: () => void) => () => {
    if (!readOnly) fn();
  };
  useEditorShortcuts({
    save: ifEditing(() => void save()),
    undo: ifEditing(() => dispatch({ type: "undo" })),
    redo: ifEditing(() => dispatch({ type: "redo" })),
    copy,
    paste: ifEditing(paste),
    cut: ifEditing(cut),
    selectAll: () => dispatch({ type: "select", nodes: stateRef.current.history.present.nodes.map((n) => n.id), edges: [] }),
    clearSelection: () => dispatch({ type: "select", nodes: [], edges: [] }),
    help: () => setHelp(true),
  });

  const focusIssue = useCallback(
    (i: LocatedIssue) => {
      const f = stateRef.current.history.present;
      if (i.nodeId && f.nodes.some((n) => n.id === i.nodeId)) {
        dispatch({ type: "select", nodes: [i.nodeId], edges: [] });
        void rf.fitView({ nodes: [{ id: i.nodeId }], duration: 300, maxZoom: 1.2, padding: 0.6 });
      } else if (i.edgeId) {
        const e = f.edges.find((x) => x.id === i.edgeId);
        if (!e) return;
        dispatch({ type: "select", nodes: [], edges: [e.id] });
        void rf.fitView({ nodes: [{ id: e.source }, { id: e.target }], duration: 300, maxZoom: 1.2, padding: 0.4 });
      } else {
        dispatch({ type: "select", nodes: [], edges: [] });
      }
    },
    [rf],
  );

  const actions = useMemo<EditorActions>(
    () => ({
      selectNode: (id) => dispatch({ type: "select", nodes: [id], edges: [] }),
      selectEdge: (id) => dispatch({ type: "select", nodes: [], edges: [id] }),
    }),
    [],
  );

  const openPanel = useCallback((tab: DockTab) => {
    setDockTab(tab);
    setDockOpen(true);
  }, []);

  return (
    <EditorStoresContext.Provider value={stores}>
      <EditorActionsContext.Provider value={actions}>
        <div className="editor" data-testid="editor" data-flow-id={flowId}>
          <EditorToolbar
            name={doc.name}
            version={state.version}
            dirty={dirty}
            saving={saving}
            canUndo={canUndo(state.history)}
            canRedo={canRedo(state.history)}
            onBack={() => void navigate("/")}
            onUndo={() => dispatch({ type: "undo" })}
            onRedo={() => dispatch({ type: "redo" })}
            onLayout={() => void layout()}
            onFit={fit}
            onSave={() => void save()}
            onExport={() => void exportFlow()}
            onHelp={() => setHelp(true)}
            onOpenPanel={openPanel}
            runControls={<RunControls busy={runConn.busy || saving} connected={runConn.connected} onAction={(a, force) => void onRunAction(a, force)} />}
          />
          <div className="editor-main">
            <Palette onAdd={addAtCenter} readOnly={editing.reason} />
            <Canvas doc={doc} view={state.view} dispatch={dispatch} readOnly={readOnly} />
            <Inspector flowId={flowId} doc={doc} view={state.view} dispatch={dispatch} issues={validation.index} />
          </div>
          <BottomDock
            tab={dockTab}
            open={dockOpen}
            errorCount={validation.index.errorCount}
            warningCount={validation.index.warningCount}
            onTab={openPanel}
            onToggle={() => setDockOpen((o) => !o)}
          >
            {dockTab === "problems" ? <ProblemsPanel issues={validation.index} doc={doc} status={validation.status} onFocus={focusIssue} /> : null}
            {dockTab === "events" ? <EventsPanel flowId={flowId} refreshKey={eventsKey} /> : null}
            {dockTab === "versions" ? <VersionsPanel flowId={flowId} currentVersion={state.version} refreshKey={eventsKey} onRevert={(v) => void revert(v)} /> : null}
          </BottomDock>
        </div>
        {conflict ? (
          <ConflictDialog
            conflict={conflict.body}
            expectedVersion={conflict.expected}
            onKeep={() => setConflict(null)}
            onReload={() => void reloadTheirs()}
            onOverwrite={() => {
              const v = conflict.body.current_version;
              setConflict(null);
              void save(v);
            }}
          />
        ) : null}
        {help ? <HelpDialog onClose={() => setHelp(false)} /> : null}
      </EditorActionsContext.Provider>
    </EditorStoresContext.Provider>
  );
}
