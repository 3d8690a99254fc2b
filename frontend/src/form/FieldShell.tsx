/** Label, help text, bounds, reset-to-default, and the field's own errors and warnings. */

import type { ReactNode } from "react";
import { Icon } from "../components/Icon";
import { issuesForField } from "../model/errorPaths";
import type { FieldModel } from "../model/schemaForm";
import { useFormState } from "./formContext";

export interface FieldShellProps {
  field: FieldModel;
  htmlFor?: string;
  children: ReactNode;
  /** Hint after the label (bounds, type). */
  hint?: string;
  /** Show the "reset to default" button. */
  canReset?: boolean;
  /** Checkbox style: input then label on one line. */
  inline?: boolean;
  /** Hide the label (array items of primitives). */
  bare?: boolean;
  /** Extra header controls (remove item...). */
  actions?: ReactNode;
}

export function FieldShell({ field, htmlFor, children, hint, canReset, inline, bare, actions }: FieldShellProps) {
  const { issues, onChange } = useFormState();
  const mine = issuesForField(issues, field.path);
  const errors = mine.filter((i) => i.severity !== "warning");
  const warnings = mine.filter((i) => i.severity === "warning");
  const label = (
    <label className="field-label" htmlFor={htmlFor}>
      {field.title}
      {field.required ? (
        <span className="req" aria-label="required">
          *
        </span>
      ) : null}
    </label>
  );
  return (
    <div className={`form-field kind-${field.kind}${errors.length ? " has-error" : warnings.length ? " has-warning" : ""}${inline ? " inline" : ""}`} data-field={field.path}>
      {!bare && !inline ? (
        <div className="field-head">
          {label}
          {hint ? <span className="field-hint">{hint}</span> : null}
          <span className="spacer" />
          {canReset ? (
            <button
              type="button"
              className="link-btn"
              data-testid={`field-reset-${field.path}`}
              aria-label={`Reset ${field.title} to its default`}
              title={field.default !== undefined ? `Reset to default (${JSON.stringify(field.default)})` : "Clear"}
              onClick={() => onChange(field.path, undefined)}
            >
              <Icon name="undo" size={12} /> default
            </button>
          ) : null}
          {actions}
        </div>
      ) : null}
      {inline ? (
        <div className="field-inline">
          {children}
          {label}
          <span className="spacer" />
          {canReset ? (
            <button type="button" className="link-btn" data-testid={`field-reset-${field.path}`} aria-label={`Reset ${field.title} to its default`} onClick={() => onChange(field.path, undefined)}>
              <Icon name="undo" size={12} /> default
            </button>
          ) : null}
        </div>
      ) : (
        <div className="field-control">
          {children}
          {bare ? actions : null}
        </div>
      )}
      {field.description && !bare ? <div className="field-help">{field.description}</div> : null}
      {errors.length > 0 ? (
        <div className="field-error" data-testid={`field-error-${field.path}`} role="alert">
          {errors.map((e, i) => (
            <div key={i}>{e.message}</div>
          ))}
        </div>
      ) : null}
      {warnings.length > 0 ? (
        <div className="field-warning" data-testid={`field-warning-${field.path}`}>
          {warnings.map((e, i) => (
            <div key={i}>{e.message}</div>
          ))}
        </div>
      ) : null}
    </div>
  );
}
