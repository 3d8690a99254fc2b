/** Start / Pause / Resume / Stop, each enabled for the states where the server accepts it. */

import { memo } from "react";
import type { RunState } from "../api/types";
import type { RunAction } from "../api/client";
import { Icon } from "../components/Icon";
import { StateChip } from "../components/StateChip";
import { formatCount } from "../model/format";
import { RUN_KEY, useEditorStores, useRun } from "../state/editorStores";
import { useKeyed } from "../state/keyedStore";

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
  return (
    <div className="run-controls" role="group" aria-label="Run controls">
      <button type="button" className="btn btn-run" data-testid="run-start" disabled={busy || !allowed.start} onClick={() => onAction("start")} aria-label="Start the flow" title="Start (saves first if needed)">
        <Icon name="play" size={13} /> Start
      </button>
      <button type="button" className="btn" data-testid="run-pause" disabled={busy || !allowed.pause} onClick={() => onAction("pause")} aria-label="Pause the flow">
        <Icon name="pause" size={13} /> Pause
      </button>
      <button type="button" className="btn" data-testid="run-resume" disabled={busy || !allowed.resume} onClick={() => onAction("resume")} aria-label="Resume the flow">
        <Icon name="play" size={13} /> Resume
      </button>
      <button
        type="button"
        className="btn"
        data-testid="run-stop"
        disabled={busy || !allowed.stop}
        onClick={(e) => onAction("stop", e.shiftKey)}
        aria-label="Stop the flow"
        title="Stop (Shift+click: force stop)"
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
