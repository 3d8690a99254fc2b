/** The property form of a node, generated from its processor's config JSON Schema and ui-schema. */

import { useMemo } from "react";
import type { JsonObject, JsonSchema, JsonValue, UiSchema } from "../api/types";
import type { LocatedIssue } from "../model/errorPaths";
import { buildConfigForm, setIn, type FormContext } from "../model/schemaForm";
import { FieldList } from "./FieldList";
import { FormStateContext, type FormState } from "./formContext";

export interface SchemaFormProps {
  schema: JsonSchema;
  uiSchema: UiSchema;
  value: JsonObject;
  issues: readonly LocatedIssue[] | undefined;
  idPrefix: string;
  /** The node being edited. */
  ownerId?: string;
  /** Shown but not editable (a role below editor). */
  readOnly?: boolean;
  /** The new config, and the path the user edited (for undo grouping). */
  onChange: (config: JsonObject, path: string) => void;
}

export function SchemaForm({ schema, uiSchema, value, issues, idPrefix, ownerId, readOnly = false, onChange }: SchemaFormProps) {
  const fields = useMemo(() => buildConfigForm(schema, uiSchema), [schema, uiSchema]);
  const ctx = useMemo<FormContext>(() => ({ root: schema, ui: uiSchema }), [schema, uiSchema]);
  const state = useMemo<FormState>(
    () => ({
      schema: ctx,
      issues,
      idPrefix,
      ...(ownerId !== undefined ? { ownerId } : {}),
      value,
      readOnly,
      onChange: (path: string, v: JsonValue | undefined) => {
        if (readOnly) return;
        const next = setIn(value, path, v);
        onChange((next && typeof next === "object" && !Array.isArray(next) ? next : {}) as JsonObject, path);
      },
    }),
    [ctx, issues, idPrefix, ownerId, value, readOnly, onChange],
  );
  if (fields.length === 0) return <div className="muted small">This processor has no settings.</div>;
  return (
    <FormStateContext.Provider value={state}>
      {/* A disabled fieldset disables every input, select and button of the form at once. */}
      <fieldset className="schema-form" disabled={readOnly} data-read-only={readOnly || undefined}>
        <FieldList fields={fields} scope="config" />
      </fieldset>
    </FormStateContext.Provider>
  );
}
