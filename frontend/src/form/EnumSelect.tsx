/** A select over the enum's values; the empty choice means "use the default". */

import type { EnumField } from "../model/schemaForm";
import { domId, useFormState } from "./formContext";

export function EnumSelect({ field, value }: { field: EnumField; value: unknown }) {
  const { idPrefix, onChange, issues } = useFormState();
  const index = field.options.findIndex((o) => JSON.stringify(o.value) === JSON.stringify(value));
  // String options carry their value (what a person or a test reads in the DOM); others their index.
  const byValue = field.options.every((o) => typeof o.value === "string" && o.value !== "");
  const optionValue = (i: number) => (byValue ? String(field.options[i]!.value) : String(i));
  const invalid = !!issues?.some((i) => i.field === field.path && i.severity !== "warning");
  const emptyLabel = field.default !== undefined && field.default !== null ? `default (${String(field.default)})` : field.required ? "— choose —" : "— not set —";
  return (
    <select
      id={domId(idPrefix, field.path)}
      className="input select"
      data-testid={`field-${field.path}`}
      value={index >= 0 ? optionValue(index) : ""}
      aria-invalid={invalid || undefined}
      onChange={(e) => {
        const v = e.target.value;
        const picked = byValue ? field.options.find((o) => o.value === v) : field.options[Number(v)];
        onChange(field.path, v === "" ? undefined : picked?.value);
      }}
    >
      <option value="">{emptyLabel}</option>
      {field.options.map((o, i) => (
        <option key={i} value={optionValue(i)}>
          {o.label}
        </option>
      ))}
      {index < 0 && value !== undefined && value !== null ? <option value="" disabled>{`invalid: ${JSON.stringify(value)}`}</option> : null}
    </select>
  );
}
