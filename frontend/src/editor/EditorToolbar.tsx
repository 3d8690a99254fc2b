/** Editor top bar: back, title with unsaved marker, edit/layout/save actions, run controls, panels, help, user. */

import { memo, type ReactNode } from "react";
import { Icon } from "../components/Icon";
import { UserMenu } from "../components/UserMenu";
import { gate } from "../model/permissions";
import { usePermissions } from "../state/session";

interface Props {
  name: string;
  version: number;
  dirty: boolean;
  saving: boolean;
  canUndo: boolean;
  canRedo: boolean;
  onBack: () => void;
  onUndo: () => void;
  onRedo: () => void;
  onLayout: () => void;
  onFit: () => void;
  onSave: () => void;
  onExport: () => void;
  onHelp: () => void;
  onOpenPanel: (tab: "versions" | "events") => void;
  runControls: ReactNode;
}

function EditorToolbarImpl(p: Props) {
  const edit = usePermissions().edit;
  return (
    <div className="editor-toolbar" role="toolbar" aria-label="Flow editor toolbar">
      <button type="button" className="icon-btn" data-testid="back-to-list" aria-label="Back to all flows" title="All flows" onClick={p.onBack}>
        <Icon name="back" />
      </button>
      <div className="flow-title" data-testid="flow-title" title={p.name}>
        <span className="flow-name">{p.name || "Untitled"}</span>
        {p.dirty ? <span className="dirty-marker" data-testid="dirty-marker" aria-label="Unsaved changes" title="Unsaved changes" role="img" /> : null}
        <span className="tag" data-testid="flow-version" title="Saved version">
          v{p.version}
        </span>
        {edit.allowed ? null : (
          <span className="tag tag-readonly" data-testid="read-only" title={`Read-only: editing ${edit.reason}`}>
            read-only
          </span>
        )}
      </div>
      <div className="toolbar-sep" />
      <button type="button" className="icon-btn" data-testid="undo" aria-label="Undo (Ctrl+Z)" {...gate(edit, "Undo (Ctrl+Z)")} disabled={!edit.allowed || !p.canUndo} onClick={p.onUndo}>
        <Icon name="undo" />
      </button>
      <button type="button" className="icon-btn" data-testid="redo" aria-label="Redo (Ctrl+Shift+Z)" {...gate(edit, "Redo (Ctrl+Shift+Z / Ctrl+Y)")} disabled={!edit.allowed || !p.canRedo} onClick={p.onRedo}>
        <Icon name="redo" />
      </button>
      <button type="button" className="icon-btn" data-testid="auto-layout" aria-label="Auto-layout (left to right)" {...gate(edit, "Auto-layout (left to right)")} onClick={p.onLayout}>
        <Icon name="layout" />
      </button>
      <button type="button" className="icon-btn" data-testid="fit-view" aria-label="Fit the flow in view" title="Fit view" onClick={p.onFit}>
        <Icon name="fit" />
      </button>
      <div className="toolbar-sep" />
      <button type="button" className={`btn ${p.dirty ? "btn-primary" : ""}`} data-testid="save-flow" aria-label="Save (Ctrl+S)" {...gate(edit, "Save (Ctrl+S)")} disabled={!edit.allowed || p.saving} onClick={p.onSave}>
        <Icon name="save" size={14} /> {p.saving ? "Saving…" : "Save"}
      </button>
      <button type="button" className="icon-btn" data-testid="export-flow" aria-label="Export the flow as JSON" title="Export JSON (saved version)" onClick={p.onExport}>
        <Icon name="download" />
      </button>
      <div className="toolbar-sep" />
      {p.runControls}
      <span className="spacer" />
      <button type="button" className="btn btn-ghost" data-testid="open-versions" onClick={() => p.onOpenPanel("versions")} aria-label="Show versions">
        <Icon name="history" size={14} /> Versions
      </button>
      <button type="button" className="btn btn-ghost" data-testid="open-events" onClick={() => p.onOpenPanel("events")} aria-label="Show events">
        <Icon name="events" size={14} /> Events
      </button>
      <button type="button" className="icon-btn" data-testid="help-button" aria-label="Keyboard shortcuts (?)" title="Keyboard shortcuts (?)" onClick={p.onHelp}>
        <Icon name="help" />
      </button>
      <div className="toolbar-sep" />
      <UserMenu />
    </div>
  );
}

export const EditorToolbar = memo(EditorToolbarImpl);
