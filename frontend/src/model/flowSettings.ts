/**
 * The edge and flow settings forms: their schemas, cut from the served flow schema (so bounds,
 * defaults and help text are the server's), and which validation issues belong to them.
 */

import type { FlowSchema, JsonSchema } from "../api/types";
import type { IssueIndex, LocatedIssue } from "./errorPaths";

export const DELIVERY_FIELD = "settings.delivery";
export const INTERVAL_FIELD = "settings.checkpoint_interval_seconds";

/**
 * A form schema `{settings: ...}` for the `settings` of an `Edge` or of the `Flow`, as the
 * flow schema declares it (`$ref`s resolve into its `$defs`); null until the schema is loaded.
 */
export function settingsFormSchema(flowSchema: FlowSchema | null, owner: "Edge" | "Flow"): JsonSchema | null {
  const settings = flowSchema?.$defs[owner]?.properties?.["settings"];
  if (!flowSchema || !settings) return null;
  return { type: "object", properties: { settings }, $defs: flowSchema.$defs };
}

export interface SettingsIssues {
  /** For the form: issues under `settings.*`, placed on their field (`delivery_unsupported` on Delivery). */
  fields: LocatedIssue[];
  /** `delivery_unsupported` names a sink node (which shows its badge too): the form links to it. */
  nodes: LocatedIssue[];
  /** Other issues under `settings` (`settings` itself, a field the editor does not know). */
  other: LocatedIssue[];
}

const isSettingsPath = (field: string | undefined) => field === "settings" || !!field?.startsWith("settings.");

export function settingsIssues(index: IssueIndex, renderedFields: ReadonlySet<string>): SettingsIssues {
  const out: SettingsIssues = { fields: [], nodes: [], other: [] };
  for (const i of index.all) {
    if (i.code === "delivery_unsupported") {
      out.fields.push({ ...i, field: DELIVERY_FIELD, inConfig: true });
      if (i.nodeId !== undefined) out.nodes.push(i);
    } else if (i.nodeId !== undefined || i.edgeId !== undefined || !isSettingsPath(i.field)) continue;
    else if (i.field !== undefined && renderedFields.has(i.field)) out.fields.push({ ...i, inConfig: true });
    else out.other.push(i);
  }
  return out;
}

/** The dotted paths of the fields a `{settings: ...}` form renders. */
export function settingsFieldPaths(schema: JsonSchema | null): Set<string> {
  const settings = schema?.properties?.["settings"];
  const ref = settings?.$ref?.split("/").pop();
  const target = ref ? schema?.$defs?.[ref] : settings;
  return new Set(Object.keys(target?.properties ?? {}).map((k) => `settings.${k}`));
}
