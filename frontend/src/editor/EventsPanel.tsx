/** The flow's audit trail (design and run events), newest first. */

import { memo, useCallback, useEffect, useMemo, useState } from "react";
import { api, isAbort } from "../api/client";
import type { FlowEvent } from "../api/types";
import { Icon } from "../components/Icon";
import { formatTime, streamLabel } from "../model/format";
import { showError } from "../state/toasts";

function payloadText(p: unknown): string {
  if (p === null || p === undefined) return "";
  if (typeof p !== "object") return String(p);
  return JSON.stringify(p);
}

function EventsPanelImpl({ flowId, refreshKey }: { flowId: string; refreshKey: number }) {
  const [events, setEvents] = useState<FlowEvent[] | null>(null);
  const [stream, setStream] = useState("all");
  const [expanded, setExpanded] = useState<number | null>(null);

  const load = useCallback(
    async (signal?: AbortSignal) => {
      try {
        setEvents(await api.events(flowId, signal));
      } catch (e) {
        if (!isAbort(e)) showError(e, "Loading events");
      }
    },
    [flowId],
  );

  useEffect(() => {
    const ac = new AbortController();
    void load(ac.signal);
    return () => ac.abort();
  }, [load, refreshKey]);

  const streams = useMemo(() => [...new Set((events ?? []).map((e) => e.stream))].sort(), [events]);
  const rows = useMemo(
    () => [...(events ?? [])].filter((e) => stream === "all" || e.stream === stream).sort((a, b) => b.recorded_at - a.recorded_at),
    [events, stream],
  );

  return (
    <div className="events-panel" data-testid="events-panel">
      <div className="panel-toolbar">
        <label className="muted small" htmlFor="events-stream">
          Stream
        </label>
        <select id="events-stream" className="input select small" data-testid="events-filter" value={stream} onChange={(e) => setStream(e.target.value)}>
          <option value="all">all</option>
          {streams.map((s) => (
            <option key={s} value={s}>
              {streamLabel(s, flowId)}
            </option>
          ))}
        </select>
        <span className="muted small">{rows.length} events</span>
        <span className="spacer" />
        <button type="button" className="btn btn-small" data-testid="events-refresh" aria-label="Refresh events" onClick={() => void load()}>
          <Icon name="refresh" size={12} /> Refresh
        </button>
      </div>
      {events === null ? (
        <div className="muted small pad">Loading…</div>
      ) : rows.length === 0 ? (
        <div className="muted small pad">No events yet.</div>
      ) : (
        <table className="table compact events-table">
          <thead>
            <tr>
              <th>Time</th>
              <th>Stream</th>
              <th>Event</th>
              <th>By</th>
              <th className="num">Version</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e, i) => {
              const text = payloadText(e.payload);
              const open = expanded === i;
              return (
                <tr key={i} data-testid={`event-row-${i}`} data-type={e.type}>
                  <td className="nowrap">{formatTime(e.recorded_at)}</td>
                  <td>
                    <span className="stream-tag" title={e.stream}>
                      {streamLabel(e.stream, flowId)}
                    </span>
                  </td>
                  <td>
                    <code>{e.type}</code>
                  </td>
                  <td className="nowrap" data-testid={`event-actor-${i}`}>
                    {e.actor}
                  </td>
                  <td className="num">{e.flow_version ?? ""}</td>
                  <td className="payload">
                    {text.length > 120 ? (
                      <button type="button" className="link-btn" aria-expanded={open} onClick={() => setExpanded(open ? null : i)}>
                        {open ? <pre>{JSON.stringify(e.payload, null, 2)}</pre> : `${text.slice(0, 120)}…`}
                      </button>
                    ) : (
                      <code>{text}</code>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}

export const EventsPanel = memo(EventsPanelImpl);
