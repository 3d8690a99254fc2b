/** Saved versions: pick two to diff, or one to revert to. */

import { memo, useCallback, useEffect, useState } from "react";
import { api, isAbort } from "../api/client";
import type { VersionInfo } from "../api/types";
import { Icon } from "../components/Icon";
import { buildDiffModel, type DiffModel } from "../model/diffModel";
import { formatRelative, formatTime } from "../model/format";
import { gate } from "../model/permissions";
import { usePermissions } from "../state/session";
import { showError } from "../state/toasts";
import { DiffView } from "./DiffView";

interface Props {
  flowId: string;
  currentVersion: number;
  refreshKey: number;
  onRevert: (version: number) => void;
}

function VersionsPanelImpl({ flowId, currentVersion, refreshKey, onRevert }: Props) {
  const [versions, setVersions] = useState<VersionInfo[] | null>(null);
  const [picked, setPicked] = useState<number[]>([]);
  const [diff, setDiff] = useState<{ from: number; to: number; model: DiffModel } | null>(null);
  const editing = usePermissions().edit;

  const load = useCallback(
    async (signal?: AbortSignal) => {
      try {
        setVersions(await api.listVersions(flowId, signal));
      } catch (e) {
        if (!isAbort(e)) showError(e, "Loading versions");
      }
    },
    [flowId],
  );

  useEffect(() => {
    const ac = new AbortController();
    void load(ac.signal);
    return () => ac.abort();
  }, [load, refreshKey, currentVersion]);

  const showDiff = useCallback(
    async (a: number, b: number, signal?: AbortSignal) => {
      const from = Math.min(a, b);
      const to = Math.max(a, b);
      try {
        const d = await api.diff(flowId, from, to, signal);
        setDiff({ from, to, model: buildDiffModel(d) });
      } catch (e) {
        if (!isAbort(e)) showError(e, `Diff v${from} → v${to}`);
      }
    },
    [flowId],
  );

  useEffect(() => {
    if (picked.length !== 2) {
      setDiff(null);
      return;
    }
    const ac = new AbortController();
    void showDiff(picked[0]!, picked[1]!, ac.signal);
    return () => ac.abort();
  }, [picked, showDiff]);

  const toggle = (n: number) => setPicked((p) => (p.includes(n) ? p.filter((x) => x !== n) : [...p, n].slice(-2)));
  const single = picked.length >= 1 ? picked[picked.length - 1]! : null;
  const sorted = [...(versions ?? [])].sort((a, b) => b.version - a.version);

  return (
    <div className="versions-panel" data-testid="versions-panel">
      <div className="versions-list">
        <div className="panel-toolbar">
          <span className="muted small">Pick two versions to compare, or one to revert to.</span>
          <span className="spacer" />
          <button
            type="button"
            className="btn btn-small"
            data-testid="compare-current"
            disabled={single === null || single === currentVersion}
            onClick={() => single !== null && void showDiff(single, currentVersion)}
          >
            <Icon name="diff" size={12} /> Compare with current
          </button>
          <button
            type="button"
            className="btn btn-small btn-danger-outline"
            data-testid="revert-version"
            {...gate(editing)}
            disabled={!editing.allowed || single === null || single === currentVersion}
            onClick={() => single !== null && onRevert(single)}
          >
            <Icon name="history" size={12} /> {single !== null ? `Revert to v${single}` : "Revert"}
          </button>
        </div>
        {versions === null ? (
          <div className="muted small pad">Loading…</div>
        ) : (
          <table className="table compact">
            <thead>
              <tr>
                <th aria-label="Pick" />
                <th>Version</th>
                <th>Saved</th>
                <th>Summary</th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((v) => {
                const on = picked.includes(v.version);
                return (
                  <tr key={v.version} data-testid={`version-row-${v.version}`} className={on ? "row-selected" : undefined} onClick={() => toggle(v.version)} aria-selected={on}>
                    <td>
                      <input
                        type="checkbox"
                        checked={on}
                        data-testid={`version-pick-${v.version}`}
                        aria-label={`Pick version ${v.version}`}
                        onClick={(e) => e.stopPropagation()}
                        onChange={() => toggle(v.version)}
                      />
                    </td>
                    <td className="nowrap">
                      v{v.version}
                      {v.version === currentVersion ? <span className="tag">current</span> : null}
                      {v.merged ? <span className="tag">merged</span> : null}
                    </td>
                    <td className="nowrap" title={formatTime(v.recorded_at)}>
                      {formatRelative(v.recorded_at)}
                    </td>
                    <td>
                      {v.summary || <span className="muted">—</span>}
                      {v.event_count ? <span className="muted small"> ({v.event_count} change{v.event_count === 1 ? "" : "s"})</span> : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </div>
      <div className="versions-diff">{diff ? <DiffView model={diff.model} from={diff.from} to={diff.to} /> : <div className="muted small pad">No comparison selected.</div>}</div>
    </div>
  );
}

export const VersionsPanel = memo(VersionsPanelImpl);
