/** Start / Pause / Resume / Stop, each enabled for the states where the server accepts it. */

import { memo } from "react";
import type { RunState } from "../api/types";
import type { RunAction } from "../api/client";
import { Icon } from "../components/Icon";
import { StateChip } from "../components/StateChip";
import { formatCount } from "../model/format";
import { gate } from "../model/permissions";
import { RUN_KEY, useEditorStores, useRun } from "../state/editorStores";
import { useKeyed } from "../state/keyedStore";
import { usePermissions } from "../state/session";

export function allowedActions(state: RunState): Record<RunAction, boolean> {
  return {
    start: state === "configured" || state === "stopped" || state === "failed" || state === "completed",
    pause: state === "running",
    resume: state === "paused",
    stop: state === "running" || state === "paused",
  };
}

interface Props {
  busy: boolean;
  connected: boolean;
  onAction: (action: RunAction, force?: boolean) => void;
}

/** Subscribes to the run state itself, so a metrics tick re-renders only this. */
function RunControlsImpl({ busy, connected, onAction }: Props) {
  const run = useRun();
  const stores = useEditorStores();
  const elapsed = useKeyed(stores.elapsed, RUN_KEY);
  const state: RunState = run?.state ?? "configured";
  const error = run?.error ?? null;
  const allowed = allowedActions(state);
  const live = state === "running" || state === "paused";
  // A viewer sees the controls, disabled, with the role they need as the tooltip.
  const may = usePermissions().run;
  const control = (enabled: boolean, title?: string) => {
    const g = gate(may, title);
    return { ...g, disabled: busy || !enabled || g.disabled };
  };
  return (
    <div className="run-controls" role="group" aria-label="Run controls">
      <button type="button" className="btn btn-run" data-testid="run-start" {...control(allowed.start, "Start (saves first if needed)")} onClick={() => onAction("start")} aria-label="Start the flow">
        <Icon name="play" size={13} /> Start
      </button>
      <button type="button" className="btn" data-testid="run-pause" {...control(allowed.pause)} onClick={() => onAction("pause")} aria-label="Pause the flow">
        <Icon name="pause" size={13} /> Pause
      </button>
      <button type="button" className="btn" data-testid="run-resume" {...control(allowed.resume)} onClick={() => onAction("resume")} aria-label="Resume the flow">
        <Icon name="play" size={13} /> Resume
      </button>
      <button
        type="button"
        className="btn"
        data-testid="run-stop"
        {...control(allowed.stop, "Stop (Shift+click: force stop)")}
        onClick={(e) => onAction("stop", e.shiftKey)}
        aria-label="Stop the flow"
      >
        <Icon name="stop" size={13} /> Stop
      </button>
      <StateChip state={state} testId="run-state" />
      {live && elapsed !== undefined ? <span className="muted small nowrap">{formatCount(Math.round(elapsed))} s</span> : null}
      <span role="img" className={`ws-dot ${connected ? "on" : "off"}`} title={connected ? "Live updates connected" : "Live updates disconnected (reconnecting)"} aria-label={connected ? "Live updates connected" : "Live updates disconnected"} data-testid="ws-status" data-connected={connected} />
      {error && state === "failed" ? (
        <span className="run-error" title={error} data-testid="run-error">
          {error}
        </span>
      ) : null}
    </div>
  );
}

export const RunControls = memo(RunControlsImpl);
