/** What every field of one generated form shares: schema context, issues, and the change callback. */

import { createContext, useContext } from "react";
import type { JsonValue } from "../api/types";
import type { LocatedIssue } from "../model/errorPaths";
import type { FormContext } from "../model/schemaForm";

export interface FormState {
  schema: FormContext;
  /** Issues of the node being edited (fields pick theirs by path). */
  issues: readonly LocatedIssue[] | undefined;
  /** Makes DOM ids unique per node. */
  idPrefix: string;
  /** The node whose config this is (names suggested for new secrets start with it). */
  ownerId?: string;
  /** The whole config being edited. */
  value: JsonValue | undefined;
  /** Shown, not editable (the user's role may not edit flows): inputs are disabled. */
  readOnly: boolean;
  /** Set one path (undefined deletes the key: the default applies again). */
  onChange: (path: string, value: JsonValue | undefined) => void;
}

export const FormStateContext = createContext<FormState | null>(null);

export function useFormState(): FormState {
  const s = useContext(FormStateContext);
  if (!s) throw new Error("FormStateContext missing");
  return s;
}

export function domId(prefix: string, path: string): string {
  return `${prefix}-${path || "root"}`.replace(/[^A-Za-z0-9_-]/g, "_");
}
