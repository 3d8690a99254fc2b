/** Display formatting: times, counts, bytes, rates. */

import type { NodeMetrics } from "../api/types";

export function formatTime(unixSeconds: number | null | undefined): string {
  if (unixSeconds === null || unixSeconds === undefined || !Number.isFinite(unixSeconds)) return "—";
  const d = new Date(unixSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatRelative(unixSeconds: number | null | undefined, nowMs: number = Date.now()): string {
  if (unixSeconds === null || unixSeconds === undefined || !Number.isFinite(unixSeconds)) return "—";
  const s = Math.round(nowMs / 1000 - unixSeconds);
  if (s < 5) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 86400 * 30) return `${Math.floor(s / 86400)} d ago`;
  return formatTime(unixSeconds).slice(0, 10);
}

/** 1234 -> "1,234"; 1234567 -> "1.23M". */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "0";
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return Math.round(n).toLocaleString("en-US");
}

export function formatRate(perSecond: number | null | undefined): string {
  if (!perSecond || !Number.isFinite(perSecond)) return "0/s";
  return `${formatCount(perSecond)}/s`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "0 B";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export function sumValues(rec: Record<string, number> | null | undefined): number {
  if (!rec) return 0;
  let s = 0;
  for (const v of Object.values(rec)) if (typeof v === "number") s += v;
  return s;
}

/** Queue fill colour: grey when empty, orange half full, red at backpressure. */
export function fillColor(ratio: number | null | undefined): string {
  const r = Math.max(0, Math.min(1, ratio ?? 0));
  // grey (148,163,184) -> orange (249,115,22) -> red (220,38,38)
  const lerp = (a: number, b: number, t: number) => Math.round(a + (b - a) * t);
  if (r <= 0.5) {
    const t = r / 0.5;
    return `rgb(${lerp(148, 249, t)}, ${lerp(163, 115, t)}, ${lerp(184, 22, t)})`;
  }
  const t = (r - 0.5) / 0.5;
  return `rgb(${lerp(249, 220, t)}, ${lerp(115, 38, t)}, ${lerp(22, 38, t)})`;
}

/** Records per second of a node: the larger of its in and out rates. */
export function nodeRate(m: Pick<NodeMetrics, "records_in_per_second" | "records_out_per_second"> | undefined): number {
  if (!m) return 0;
  return Math.max(m.records_in_per_second, m.records_out_per_second);
}

/**
 * A journal stream as people read it: the flow's own stream (`flow-<flow id>`) is its
 * design history; a run's stream (`run-<run id>`) is named by the run id alone.
 */
export function streamLabel(stream: string, flowId: string): string {
  if (stream === `flow-${flowId}`) return "design";
  if (stream.startsWith("run-")) return stream.slice(4);
  return stream;
}
