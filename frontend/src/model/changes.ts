/**
 * The one place where React Flow's change lists become domain edits.
 *
 * React Flow reports what the user did as typed changes (position, select, remove,
 * dimensions...). Document changes (moves, removals) become DomainEdits applied to the
 * flow document; view-only changes (selection, measured size) update the ViewState.
 */

import type { EdgeChange, NodeChange } from "@xyflow/react";
import type { DomainEdit } from "./edits";
import type { FlowRfEdge, ProcessorRfNode, ViewState } from "./graph";

export interface CanvasChangeResult {
  edits: DomainEdit[];
  /** The new view state; the same object when nothing in it changed. */
  view: ViewState;
  /** true while a drag is going on, false when one ended in this batch, null if no drag info. */
  dragging: boolean | null;
}

function withSelection(set: ReadonlySet<string>, id: string, selected: boolean): ReadonlySet<string> {
  if (set.has(id) === selected) return set;
  const next = new Set(set);
  if (selected) next.add(id);
  else next.delete(id);
  return next;
}

export function nodeChangesToEdits(changes: readonly NodeChange<ProcessorRfNode>[], view: ViewState): CanvasChangeResult {
  const edits: DomainEdit[] = [];
  let { selectedNodes, measured } = view;
  let dragging: boolean | null = null;
  for (const c of changes) {
    switch (c.type) {
      case "position":
        if (c.position) edits.push({ kind: "move", id: c.id, position: { x: Math.round(c.position.x), y: Math.round(c.position.y) } });
        if (c.dragging !== undefined) dragging = dragging === true ? true : c.dragging;
        break;
      case "dimensions":
        if (c.dimensions) {
          const prev = measured.get(c.id);
          if (!prev || prev.width !== c.dimensions.width || prev.height !== c.dimensions.height) {
            const next = new Map(measured);
            next.set(c.id, { width: c.dimensions.width, height: c.dimensions.height });
            measured = next;
          }
        }
        break;
      case "select":
        selectedNodes = withSelection(selectedNodes, c.id, c.selected);
        break;
      case "remove":
        edits.push({ kind: "remove-node", id: c.id });
        selectedNodes = withSelection(selectedNodes, c.id, false);
        if (measured.has(c.id)) {
          const next = new Map(measured);
          next.delete(c.id);
          measured = next;
        }
        break;
      // "add" and "replace" never come from user interaction: nodes are added through domain edits.
      default:
        break;
    }
  }
  const changed = selectedNodes !== view.selectedNodes || measured !== view.measured;
  return { edits, view: changed ? { ...view, selectedNodes, measured } : view, dragging };
}

export function edgeChangesToEdits(changes: readonly EdgeChange<FlowRfEdge>[], view: ViewState): CanvasChangeResult {
  const edits: DomainEdit[] = [];
  let { selectedEdges } = view;
  for (const c of changes) {
    if (c.type === "select") selectedEdges = withSelection(selectedEdges, c.id, c.selected);
    else if (c.type === "remove") {
      edits.push({ kind: "remove-edge", id: c.id });
      selectedEdges = withSelection(selectedEdges, c.id, false);
    }
  }
  return { edits, view: selectedEdges !== view.selectedEdges ? { ...view, selectedEdges } : view, dragging: null };
}
