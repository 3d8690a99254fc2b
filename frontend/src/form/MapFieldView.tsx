/** dict[str, X]: key/value rows. */

import { useState, type ReactNode } from "react";
import type { JsonValue } from "../api/types";
import { Icon } from "../components/Icon";
import { buildField, getIn, joinPath, newItemValue, type MapField } from "../model/schemaForm";
import { Field } from "./Field";
import { FieldShell } from "./FieldShell";
import { useFormState } from "./formContext";

export function MapFieldView({ field, actions }: { field: MapField; actions?: ReactNode }) {
  const form = useFormState();
  const raw = getIn(form.value, field.path);
  const obj: Record<string, JsonValue> = raw && typeof raw === "object" && !Array.isArray(raw) ? raw : {};
  const [newKey, setNewKey] = useState("");
  const entries = Object.entries(obj);
  const rename = (from: string, to: string) => {
    if (!to || to === from || to in obj) return;
    const next: Record<string, JsonValue> = {};
    for (const [k, v] of entries) next[k === from ? to : k] = v;
    form.onChange(field.path, next);
  };
  const remove = (key: string) => {
    const next = { ...obj };
    delete next[key];
    form.onChange(field.path, Object.keys(next).length ? next : undefined);
  };
  const add = () => {
    const k = newKey.trim();
    if (!k || k in obj) return;
    const template = buildField(field.values, form.schema, k, joinPath(field.path, k), { required: true });
    form.onChange(field.path, { ...obj, [k]: newItemValue(template) });
    setNewKey("");
  };
  return (
    <FieldShell field={field} hint="key → value" canReset={raw !== undefined} actions={actions}>
      <div className="map-rows" data-testid={`map-${field.path}`}>
        {entries.map(([k], i) => {
          const vf = buildField(field.values, form.schema, k, joinPath(field.path, k), { required: true });
          return (
            <div key={k} className="map-row">
              <input
                className="input map-key"
                defaultValue={k}
                aria-label={`${field.title} key ${i + 1}`}
                data-testid={`field-${field.path}-key-${i}`}
                onBlur={(e) => rename(k, e.target.value.trim())}
              />
              <div className="map-value">
                <Field field={vf} bare />
              </div>
              <button type="button" className="icon-btn small" aria-label={`Remove ${k}`} data-testid={`field-remove-${vf.path}`} onClick={() => remove(k)}>
                <Icon name="trash" size={13} />
              </button>
            </div>
          );
        })}
        <div className="map-row">
          <input
            className="input map-key"
            placeholder="new key"
            aria-label={`New ${field.title} key`}
            data-testid={`field-${field.path}-newkey`}
            value={newKey}
            onChange={(e) => setNewKey(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                add();
              }
            }}
          />
          <button type="button" className="btn btn-small" data-testid={`field-add-${field.path}`} onClick={add} disabled={!newKey.trim() || newKey.trim() in obj}>
            <Icon name="plus" size={12} /> Add
          </button>
        </div>
      </div>
    </FieldShell>
  );
}
