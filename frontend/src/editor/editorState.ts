/** The editor's state: the flow document with undo history, what is selected, and what was saved. */

import type { EdgeChange, NodeChange } from "@xyflow/react";
import type { Flow } from "../api/types";
import { edgeChangesToEdits, nodeChangesToEdits } from "../model/changes";
import { applyEdits, normalizeFlow, reconcile } from "../model/edits";
import { emptyView, type FlowRfEdge, type ProcessorRfNode, type ViewState } from "../model/graph";
import { commit, createHistory, redo, replacePresent, undo, type History } from "../model/history";

export interface EditorState {
  history: History<Flow>;
  view: ViewState;
  /** The document as last loaded or saved: `dirty` is `present !== saved`. */
  saved: Flow;
  version: number;
  /** The document where the current drag started (one undo step per drag). */
  dragBase: Flow | null;
}

export type EditorAction =
  | { type: "loaded"; flow: Flow; version: number; asEdit?: boolean }
  | { type: "edit"; update: (f: Flow) => Flow; key?: string; select?: { nodes: readonly string[]; edges: readonly string[] } }
  | { type: "node-changes"; changes: NodeChange<ProcessorRfNode>[] }
  | { type: "edge-changes"; changes: EdgeChange<FlowRfEdge>[] }
  | { type: "select"; nodes: readonly string[]; edges: readonly string[] }
  | { type: "undo" }
  | { type: "redo" }
  | { type: "saved"; flow: Flow; version: number; sent: Flow };

export function initEditorState(flow: Flow, version: number): EditorState {
  const doc = normalizeFlow(flow);
  return { history: createHistory(doc), view: emptyView(), saved: doc, version, dragBase: null };
}

/** Drop selected ids that no longer exist (after undo, remove, reload). */
function pruneSelection(view: ViewState, flow: Flow): ViewState {
  const nodes = new Set(flow.nodes.map((n) => n.id));
  const edges = new Set(flow.edges.map((e) => e.id));
  const sn = [...view.selectedNodes].filter((id) => nodes.has(id));
  const se = [...view.selectedEdges].filter((id) => edges.has(id));
  if (sn.length === view.selectedNodes.size && se.length === view.selectedEdges.size) return view;
  return { ...view, selectedNodes: new Set(sn), selectedEdges: new Set(se) };
}

export function editorReducer(state: EditorState, action: EditorAction): EditorState {
  switch (action.type) {
    case "loaded": {
      const doc = reconcile(state.history.present, normalizeFlow(action.flow));
      const history = action.asEdit ? commit(state.history, doc) : createHistory(doc);
      return { ...state, history, saved: doc, version: action.version, view: pruneSelection(state.view, doc), dragBase: null };
    }
    case "edit": {
      const next = action.update(state.history.present);
      let view = state.view;
      if (action.select) view = { ...view, selectedNodes: new Set(action.select.nodes), selectedEdges: new Set(action.select.edges) };
      if (next === state.history.present && view === state.view) return state;
      const history = commit(state.history, next, action.key !== undefined ? { key: action.key } : {});
      return { ...state, history, view: pruneSelection(view, next) };
    }
    case "node-changes": {
      const r = nodeChangesToEdits(action.changes, state.view);
      const next = applyEdits(state.history.present, r.edits);
      if (r.dragging === true) {
        const dragBase = state.dragBase ?? state.history.present;
        return { ...state, view: r.view, history: replacePresent(state.history, next), dragBase };
      }
      if (r.dragging === false || state.dragBase) {
        const base = state.dragBase ?? state.history.present;
        return { ...state, view: pruneSelection(r.view, next), history: commit(state.history, next, { base }), dragBase: null };
      }
      if (next === state.history.present && r.view === state.view) return state;
      return { ...state, view: pruneSelection(r.view, next), history: commit(state.history, next) };
    }
    case "edge-changes": {
      const r = edgeChangesToEdits(action.changes, state.view);
      const next = applyEdits(state.history.present, r.edits);
      if (next === state.history.present && r.view === state.view) return state;
      return { ...state, view: r.view, history: commit(state.history, next) };
    }
    case "select": {
      const view = { ...state.view, selectedNodes: new Set(action.nodes), selectedEdges: new Set(action.edges) };
      return { ...state, view };
    }
    case "undo": {
      const history = undo(state.history);
      return history === state.history ? state : { ...state, history, view: pruneSelection(state.view, history.present), dragBase: null };
    }
    case "redo": {
      const history = redo(state.history);
      return history === state.history ? state : { ...state, history, view: pruneSelection(state.view, history.present), dragBase: null };
    }
    case "saved": {
      const present = state.history.present;
      if (present === action.sent) {
        // Keep unchanged parts by reference: only what the server changed (a merge) re-renders.
        const doc = reconcile(present, normalizeFlow(action.flow));
        return { ...state, history: replacePresent(state.history, doc), saved: doc, version: action.version, view: pruneSelection(state.view, doc) };
      }
      // Edited while saving: those edits stay unsaved.
      return { ...state, saved: reconcile(action.sent, normalizeFlow(action.flow)), version: action.version };
    }
    default:
      return state;
  }
}

export const isDirty = (s: EditorState) => s.history.present !== s.saved;
