/** Text, password (masked) and multi-line string fields. Empty clears the key unless required. */

import type { StringField } from "../model/schemaForm";
import { placeholderOf } from "../model/schemaForm";
import { domId, useFormState } from "./formContext";

export function StringInput({ field, value }: { field: StringField; value: unknown }) {
  const { idPrefix, onChange, issues } = useFormState();
  const id = domId(idPrefix, field.path);
  const text = typeof value === "string" ? value : value === undefined || value === null ? "" : String(value);
  const invalid = !!issues?.some((i) => i.field === field.path && i.severity !== "warning");
  const set = (v: string) => onChange(field.path, v === "" && !field.required ? undefined : v);
  const common = {
    id,
    className: "input",
    "data-testid": `field-${field.path}`,
    value: text,
    placeholder: placeholderOf(field),
    "aria-invalid": invalid || undefined,
    "aria-required": field.required || undefined,
    spellCheck: false,
  };
  if (field.multiline) return <textarea {...common} rows={4} onChange={(e) => set(e.target.value)} />;
  return (
    <input
      {...common}
      type={field.password ? "password" : "text"}
      autoComplete={field.password ? "new-password" : "off"}
      maxLength={field.maxLength}
      onChange={(e) => set(e.target.value)}
    />
  );
}
