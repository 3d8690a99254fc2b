/** The flow's run settings (`settings` of the document): options, input checks, which issues belong to them. */

import { CHECKPOINT_INTERVAL_BOUNDS, type Delivery } from "../api/types";
import type { IssueIndex, LocatedIssue } from "./errorPaths";

export const DELIVERY_FIELD = "settings.delivery";
export const INTERVAL_FIELD = "settings.checkpoint_interval_seconds";

export const DELIVERY_OPTIONS: readonly { value: Delivery; label: string; help: string }[] = [
  { value: "at_least_once", label: "At least once", help: "After a crash, records since the last checkpoint may be written again." },
  { value: "exactly_once", label: "Exactly once", help: "Sinks publish only checkpointed data; every sink must support it." },
];

export interface SettingsIssues {
  /** `settings.delivery`, and every `delivery_unsupported` (it names a sink node, which shows its badge too). */
  delivery: LocatedIssue[];
  interval: LocatedIssue[];
  /** Other issues under `settings` (`settings` itself, a field the editor does not know). */
  other: LocatedIssue[];
}

const isSettingsPath = (field: string | undefined) => field === "settings" || !!field?.startsWith("settings.");

export function settingsIssues(index: IssueIndex): SettingsIssues {
  const out: SettingsIssues = { delivery: [], interval: [], other: [] };
  for (const i of index.all) {
    if (i.code === "delivery_unsupported") out.delivery.push(i);
    else if (i.nodeId !== undefined || i.edgeId !== undefined || !isSettingsPath(i.field)) continue;
    else if (i.field === DELIVERY_FIELD) out.delivery.push(i);
    else if (i.field === INTERVAL_FIELD) out.interval.push(i);
    else out.other.push(i);
  }
  return out;
}

/** What is wrong with a typed checkpoint interval, or null when it is a valid number of seconds. */
export function intervalError(text: string): string | null {
  const n = text.trim() === "" ? Number.NaN : Number(text);
  if (!Number.isFinite(n)) return "Enter a number of seconds.";
  const { exclusiveMinimum: min, maximum: max } = CHECKPOINT_INTERVAL_BOUNDS;
  if (n <= min || n > max) return `Must be more than ${min} and at most ${max} seconds.`;
  return null;
}
