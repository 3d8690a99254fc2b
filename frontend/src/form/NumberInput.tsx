/** Integer/number field with min/max; keeps the typed text while it is not a number yet. */

import { useEffect, useState } from "react";
import type { NumberField } from "../model/schemaForm";
import { placeholderOf } from "../model/schemaForm";
import { domId, useFormState } from "./formContext";

export function NumberInput({ field, value }: { field: NumberField; value: unknown }) {
  const { idPrefix, onChange, issues } = useFormState();
  const external = typeof value === "number" ? String(value) : "";
  const [text, setText] = useState(external);
  useEffect(() => {
    setText((t) => (Number(t) === Number(external) && t !== "" && external !== "" ? t : external));
  }, [external]);
  const invalid = !!issues?.some((i) => i.field === field.path && i.severity !== "warning");
  const outOfRange = (n: number) =>
    (field.minimum !== undefined && n < field.minimum) ||
    (field.maximum !== undefined && n > field.maximum) ||
    (field.exclusiveMinimum !== undefined && n <= field.exclusiveMinimum) ||
    (field.exclusiveMaximum !== undefined && n >= field.exclusiveMaximum);
  const parsed = text.trim() === "" ? null : Number(text);
  const localError = parsed !== null && (Number.isNaN(parsed) || (field.kind === "integer" && !Number.isInteger(parsed)));
  return (
    <>
      <input
        id={domId(idPrefix, field.path)}
        className="input input-number"
        type="number"
        inputMode={field.kind === "integer" ? "numeric" : "decimal"}
        data-testid={`field-${field.path}`}
        value={text}
        min={field.minimum ?? field.exclusiveMinimum}
        max={field.maximum ?? field.exclusiveMaximum}
        step={field.step}
        placeholder={placeholderOf(field)}
        aria-invalid={invalid || localError || (parsed !== null && outOfRange(parsed)) || undefined}
        onChange={(e) => {
          const t = e.target.value;
          setText(t);
          if (t.trim() === "") onChange(field.path, field.nullable && field.required ? null : undefined);
          else {
            const n = Number(t);
            if (!Number.isNaN(n)) onChange(field.path, n);
          }
        }}
      />
      {localError ? <div className="field-error">{field.kind === "integer" ? "Enter a whole number." : "Enter a number."}</div> : null}
    </>
  );
}
