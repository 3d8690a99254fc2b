/** Run state and live metrics: GET run once, then the WebSocket (reconnecting with backoff), polling while it is down. */

import { useCallback, useEffect, useRef, useState } from "react";
import { api, isAbort, socketUrl, type RunAction } from "../api/client";
import { whenSignedIn } from "../api/session";
import type { SocketMessage } from "../api/types";
import { RUN_KEY, type EditorStores } from "../state/editorStores";
import { useKeyed } from "../state/keyedStore";
import { showError } from "../state/toasts";

const POLL_MS = 2000;
const MAX_BACKOFF_MS = 30_000;

export function backoffDelay(attempt: number, rand: () => number = Math.random): number {
  const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt);
  return Math.round(base * (0.75 + rand() * 0.5));
}

export interface RunConnection {
  connected: boolean;
  busy: boolean;
  action: (a: RunAction, force?: boolean) => Promise<boolean>;
}

export function useRunConnection(flowId: string, stores: EditorStores, onRunEvent: () => void): RunConnection {
  const [connected, setConnected] = useState(false);
  const [busy, setBusy] = useState(false);
  const run = useKeyed(stores.run, RUN_KEY);
  const state = run?.state ?? "configured";
  const onRunEventRef = useRef(onRunEvent);
  onRunEventRef.current = onRunEvent;

  // Initial state.
  useEffect(() => {
    const ac = new AbortController();
    api
      .run(flowId, ac.signal)
      .then((r) => {
        stores.setRun(r);
        if (r.state === "running" || r.state === "paused" || r.state === "failed" || r.state === "completed" || r.state === "stopped") {
          return api.metrics(flowId, ac.signal).then((m) => stores.setMetrics(m));
        }
        return undefined;
      })
      .catch((e: unknown) => {
        if (!isAbort(e)) showError(e, "Loading the run state");
      });
    return () => ac.abort();
  }, [flowId, stores]);

  // WebSocket with exponential backoff.
  useEffect(() => {
    let ws: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let attempt = 0;
    let closed = false;
    const ac = new AbortController();
    // The socket opens only with a session (a refused handshake is a console error that says
    // nothing). After a drop, an ordinary call goes first: if the session ended, its 401 brings
    // the sign-in page and the call (so the socket) waits for the user to be back.
    const connect = () => {
      if (closed) return;
      const ready = attempt === 0 ? whenSignedIn(ac.signal) : api.run(flowId, ac.signal).then((r) => stores.setRun(r));
      ready.then(open, (e: unknown) => {
        if (!isAbort(e)) schedule();
      });
    };
    const open = () => {
      if (closed) return;
      try {
        ws = new WebSocket(socketUrl(flowId));
      } catch {
        schedule();
        return;
      }
      ws.onopen = () => {
        attempt = 0;
        setConnected(true);
      };
      ws.onmessage = (ev) => {
        let msg: SocketMessage;
        try {
          msg = JSON.parse(String(ev.data)) as SocketMessage;
        } catch {
          return;
        }
        if (msg.type === "metrics" && msg.metrics) stores.setMetrics(msg.metrics);
        else if (msg.type === "state" && msg.run) {
          stores.setRun(msg.run);
          onRunEventRef.current();
        } else if (msg.type === "error") {
          if (msg.node_id) stores.addNodeError(msg.node_id, msg.message);
          else showError(new Error(msg.message), "Run error");
        }
      };
      ws.onclose = () => {
        setConnected(false);
        ws = null;
        schedule();
      };
      ws.onerror = () => {
        /* onclose follows and reconnects */
      };
    };
    const schedule = () => {
      if (closed) return;
      timer = setTimeout(connect, backoffDelay(attempt++));
    };
    // Deferred a tick: a mount/unmount/mount (React StrictMode) then opens one socket, not two.
    timer = setTimeout(connect, 0);
    return () => {
      closed = true;
      ac.abort();
      if (timer) clearTimeout(timer);
      if (ws) {
        ws.onclose = null;
        ws.close();
      }
    };
  }, [flowId, stores]);

  // Polling while the socket is down and something runs.
  const live = state === "running" || state === "paused";
  useEffect(() => {
    if (connected || !live) return;
    const ac = new AbortController();
    let reported = false;
    const tick = async () => {
      try {
        const [r, m] = await Promise.all([api.run(flowId, ac.signal), api.metrics(flowId, ac.signal)]);
        const prev = stores.run.get(RUN_KEY)?.state;
        stores.setRun(r);
        stores.setMetrics(m);
        if (prev !== r.state) onRunEventRef.current();
      } catch (e) {
        if (!isAbort(e) && !reported) {
          reported = true;
          showError(e, "Refreshing metrics");
        }
      }
    };
    const t = setInterval(() => void tick(), POLL_MS);
    return () => {
      clearInterval(t);
      ac.abort();
    };
  }, [connected, live, flowId, stores]);

  const action = useCallback(
    async (a: RunAction, force = false) => {
      setBusy(true);
      try {
        if (a === "start") {
          stores.clearRuntime();
          stores.nodeMetrics.clear();
          stores.edgeMetrics.clear();
        }
        const r = await api.runAction(flowId, a, force);
        stores.setRun(r);
        onRunEventRef.current();
        return true;
      } catch (e) {
        showError(e, `${a[0]!.toUpperCase()}${a.slice(1)} failed`);
        // A refused transition means our idea of the state was stale: fetch the real one.
        api.run(flowId).then(
          (r) => stores.setRun(r),
          () => undefined,
        );
        return false;
      } finally {
        setBusy(false);
      }
    },
    [flowId, stores],
  );

  return { connected, busy, action };
}
