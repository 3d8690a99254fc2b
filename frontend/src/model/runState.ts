/** What a node's status dot says, from the flow's run state and the node's own metrics. */

import type { NodeMetrics, RunState } from "../api/types";
import { nodeRate } from "./format";

export type NodeRunState = "none" | "idle" | "active" | "paused" | "finished" | "stopped" | "error";

export function nodeRunState(flow: RunState, m: NodeMetrics | undefined, opts: { runtimeErrors?: number; isErrorNode?: boolean } = {}): NodeRunState {
  if (opts.isErrorNode && flow === "failed") return "error";
  if ((opts.runtimeErrors ?? 0) > 0 || m?.state === "failed") return "error";
  if (!m) return flow === "running" || flow === "paused" ? "idle" : "none";
  if (m.state === "finished") return "finished";
  if (m.state === "cancelled") return "stopped";
  if (flow === "paused") return "paused";
  if (flow === "running") return nodeRate(m) > 0 ? "active" : "idle";
  if (flow === "completed") return "finished";
  return "stopped";
}
