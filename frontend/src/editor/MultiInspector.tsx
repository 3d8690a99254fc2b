/** Several elements selected: counts and bulk actions. */

import type { Dispatch } from "react";
import { Icon } from "../components/Icon";
import { removeElements } from "../model/edits";
import { gate } from "../model/permissions";
import { usePermissions } from "../state/session";
import type { EditorAction } from "./editorState";

export function MultiInspector({ nodeIds, edgeIds, dispatch }: { nodeIds: string[]; edgeIds: string[]; dispatch: Dispatch<EditorAction> }) {
  const editing = usePermissions().edit;
  return (
    <div className="inspector-section">
      <div className="panel-title">Selection</div>
      <p data-testid="selection-summary">
        {nodeIds.length} node{nodeIds.length === 1 ? "" : "s"}, {edgeIds.length} connection{edgeIds.length === 1 ? "" : "s"} selected.
      </p>
      <p className="muted small">Drag to move them together, Ctrl+C / Ctrl+V to duplicate, Delete to remove.</p>
      <button
        type="button"
        className="btn btn-danger-outline"
        data-testid="delete-selection"
        {...gate(editing)}
        onClick={() => dispatch({ type: "edit", update: (f) => removeElements(f, nodeIds, edgeIds) })}
      >
        <Icon name="trash" size={14} /> Delete selection
      </button>
    </div>
  );
}
