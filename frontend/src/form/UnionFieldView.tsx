/** anyOf / oneOf / tagged unions: a type selector, then the chosen variant's fields. */

import { useMemo, useState, type ReactNode } from "react";
import { buildField, buildObjectFields, getIn, matchVariant, variantInitialValue, type UnionField } from "../model/schemaForm";
import { Field } from "./Field";
import { FieldList } from "./FieldList";
import { FieldShell } from "./FieldShell";
import { domId, useFormState } from "./formContext";

export function UnionFieldView({ field, actions }: { field: UnionField; actions?: ReactNode }) {
  const form = useFormState();
  const value = getIn(form.value, field.path);
  const matched = matchVariant(field, value);
  const [picked, setPicked] = useState<number>(-1);
  const index = matched >= 0 ? matched : picked;
  const variant = index >= 0 ? field.variants[index] : undefined;

  const sub = useMemo(() => {
    if (!variant) return null;
    if (field.discriminator || variant.jsonType === "object") {
      return { kind: "fields" as const, fields: buildObjectFields(variant.schema, form.schema, field.path, 1, field.discriminator ? new Set([field.discriminator]) : undefined) };
    }
    const f = buildField(variant.schema, form.schema, field.key, field.path, { required: field.required });
    return { kind: "field" as const, field: { ...f, title: variant.label, description: undefined } };
  }, [variant, field, form.schema]);

  const id = domId(form.idPrefix, `${field.path}-variant`);
  return (
    <FieldShell field={field} htmlFor={id} hint={field.discriminator ? `by ${field.discriminator}` : "one of"} canReset={value !== undefined && !field.required} actions={actions}>
      <div className="union-body">
        <select
          id={id}
          className="input select"
          data-testid={`field-${field.path}-variant`}
          value={index >= 0 ? String(index) : ""}
          onChange={(e) => {
            const i = e.target.value === "" ? -1 : Number(e.target.value);
            setPicked(i);
            form.onChange(field.path, i < 0 ? undefined : variantInitialValue(field, i, value));
          }}
        >
          <option value="">{field.default !== undefined ? "default" : "— choose a type —"}</option>
          {field.variants.map((v, i) => (
            <option key={i} value={String(i)}>
              {v.label}
            </option>
          ))}
        </select>
        {sub?.kind === "fields" && sub.fields.length > 0 ? (
          <div className="subform" data-testid={`subform-${field.path}`}>
            <FieldList fields={sub.fields} scope={field.path} />
          </div>
        ) : null}
        {sub?.kind === "field" ? (
          <div className="subform plain">
            <Field field={sub.field} bare />
          </div>
        ) : null}
      </div>
    </FieldShell>
  );
}
