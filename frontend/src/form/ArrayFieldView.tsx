/** Arrays: add/remove items; object items render as nested sub-forms. */

import type { ReactNode } from "react";
import { Icon } from "../components/Icon";
import type { JsonValue } from "../api/types";
import { getIn, itemField, newItemValue, removeIndex, type ArrayField } from "../model/schemaForm";
import { Field } from "./Field";
import { FieldShell } from "./FieldShell";
import { useFormState } from "./formContext";

export function ArrayFieldView({ field, actions }: { field: ArrayField; actions?: ReactNode }) {
  const form = useFormState();
  const raw = getIn(form.value, field.path);
  const items: JsonValue[] = Array.isArray(raw) ? raw : [];
  const template = itemField(field, form.schema, items.length);
  const canAdd = field.maxItems === undefined || items.length < field.maxItems;
  const canRemove = field.minItems === undefined || items.length > field.minItems;
  const add = () => form.onChange(field.path, [...items, newItemValue(template)]);
  const remove = (i: number) => {
    const next = removeIndex(form.value, field.path, i);
    form.onChange(field.path, getIn(next, field.path));
  };
  const hint = [field.minItems !== undefined ? `min ${field.minItems}` : "", field.maxItems !== undefined ? `max ${field.maxItems}` : ""].filter(Boolean).join(", ");
  return (
    <FieldShell field={field} hint={hint || `${items.length} item${items.length === 1 ? "" : "s"}`} actions={actions}>
      <div className={`array-items${field.itemsAreObjects ? " of-objects" : ""}`} data-testid={`array-${field.path}`}>
        {items.map((_, i) => {
          const f = itemField(field, form.schema, i);
          const removeBtn = (
            <button
              type="button"
              className="icon-btn small"
              data-testid={`field-remove-${f.path}`}
              aria-label={`Remove ${field.title} item ${i + 1}`}
              title="Remove item"
              disabled={!canRemove}
              onClick={() => remove(i)}
            >
              <Icon name="trash" size={13} />
            </button>
          );
          return (
            <div key={i} className="array-item">
              <Field field={f} bare={!field.itemsAreObjects} actions={removeBtn} />
            </div>
          );
        })}
        {items.length === 0 ? <div className="muted small">No items{field.default !== undefined ? ` (default: ${JSON.stringify(field.default)})` : ""}.</div> : null}
        <button type="button" className="btn btn-small" data-testid={`field-add-${field.path}`} disabled={!canAdd} onClick={add} aria-label={`Add ${field.title} item`}>
          <Icon name="plus" size={12} /> Add {field.itemsAreObjects ? field.title.replace(/s$/, "").toLowerCase() : "item"}
        </button>
      </div>
    </FieldShell>
  );
}
