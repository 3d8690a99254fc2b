/** A checkbox showing the default until the user sets it. */

import type { BooleanField } from "../model/schemaForm";
import { domId, useFormState } from "./formContext";

export function BooleanInput({ field, value }: { field: BooleanField; value: unknown }) {
  const { idPrefix, onChange } = useFormState();
  const checked = typeof value === "boolean" ? value : field.default === true;
  return (
    <input
      id={domId(idPrefix, field.path)}
      type="checkbox"
      className="checkbox"
      data-testid={`field-${field.path}`}
      data-default={value === undefined ? "true" : undefined}
      checked={checked}
      onChange={(e) => onChange(field.path, e.target.checked)}
    />
  );
}
