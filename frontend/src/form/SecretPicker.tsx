/**
 * An `x-secret` field: pick one of the server's named secrets, or create one, and the
 * config holds `{"secret": NAME}`. The value typed for a new secret goes to
 * PUT /secrets/{name} and nowhere else: never into the flow, the undo history or a draft.
 * Editors list the names; only admins store values (the New button says so to others).
 */

import { useState } from "react";
import { toApiError } from "../api/client";
import type { JsonValue } from "../api/types";
import { Icon } from "../components/Icon";
import { gate } from "../model/permissions";
import type { SecretField } from "../model/schemaForm";
import { checkNewSecret, readSecretField, secretOptions, secretRef, suggestSecretName } from "../model/secretField";
import { loadSecrets, saveSecret, useSecrets } from "../state/secrets";
import { usePermissions } from "../state/session";
import { showSuccess } from "../state/toasts";
import { domId, useFormState } from "./formContext";

export function SecretPicker({ field, value }: { field: SecretField; value: JsonValue | undefined }) {
  const { idPrefix, ownerId, onChange, issues } = useFormState();
  const can = usePermissions();
  const listing = can.secretNames.allowed;
  const secrets = useSecrets(listing);
  const current = readSecretField(value);
  const options = secretOptions(secrets.names, current);
  const [creating, setCreating] = useState<{ initialValue: string } | null>(null);
  const invalid = !!issues?.some((i) => i.field === field.path && i.severity !== "warning");
  const id = domId(idPrefix, field.path);
  const unsetLabel = field.required ? "— choose a secret —" : "— none —";

  return (
    <div className="secret-picker">
      <div className="secret-row">
        <select
          id={id}
          className="input select"
          data-testid={`field-${field.path}`}
          value={current.kind === "ref" ? current.name : ""}
          aria-invalid={invalid || current.kind === "clear" || current.kind === "invalid" || undefined}
          onFocus={() => listing && void loadSecrets()}
          onChange={(e) => {
            const name = e.target.value;
            onChange(field.path, name === "" ? undefined : secretRef(name));
          }}
        >
          <option value="">{current.kind === "clear" ? "— clear text (not allowed) —" : unsetLabel}</option>
          {options.map((o) => (
            <option key={o.name} value={o.name}>
              {o.missing ? `${o.name} (missing)` : o.name}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="btn btn-small secret-new-btn"
          data-testid={`field-${field.path}-new-secret`}
          aria-expanded={creating !== null}
          {...gate(can.secretValues, "Store a new secret on the server and use it here")}
          onClick={() => setCreating((c) => (c ? null : { initialValue: "" }))}
        >
          <Icon name="plus" size={12} /> New
        </button>
      </div>
      {current.kind === "clear" ? (
        <div className="field-warning" data-testid={`field-${field.path}-in-clear`}>
          This field holds a value in clear text, which the server refuses to store.{" "}
          <button type="button" className="link-btn" data-testid={`field-${field.path}-to-secret`} {...gate(can.secretValues)} onClick={() => setCreating({ initialValue: typeof value === "string" ? value : "" })}>
            Store it as a secret
          </button>
        </div>
      ) : null}
      {current.kind === "ref" && options.some((o) => o.name === current.name && o.missing) ? (
        <div className="field-warning" data-testid={`field-${field.path}-missing`}>
          No secret named “{current.name}” on this server: create it (New) or pick another.
        </div>
      ) : null}
      {secrets.error ? (
        <div className="field-warning">
          Cannot list secrets: {secrets.error}{" "}
          <button type="button" className="link-btn" onClick={() => void loadSecrets()}>
            Retry
          </button>
        </div>
      ) : null}
      {creating && can.secretValues.allowed ? (
        <NewSecretForm
          path={field.path}
          idPrefix={id}
          existing={secrets.names}
          suggestedName={current.kind === "ref" && options.some((o) => o.name === current.name && o.missing) ? current.name : suggestSecretName(ownerId ?? "node", field.key, secrets.names)}
          initialValue={creating.initialValue}
          onCancel={() => setCreating(null)}
          onSaved={(name) => {
            setCreating(null);
            onChange(field.path, secretRef(name));
          }}
        />
      ) : null}
    </div>
  );
}

interface NewSecretFormProps {
  path: string;
  idPrefix: string;
  existing: readonly string[] | null;
  suggestedName: string;
  initialValue: string;
  onCancel: () => void;
  onSaved: (name: string) => void;
}

function NewSecretForm({ path, idPrefix, existing, suggestedName, initialValue, onCancel, onSaved }: NewSecretFormProps) {
  const [name, setName] = useState(suggestedName);
  const [secretValue, setSecretValue] = useState(initialValue);
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const check = checkNewSecret(name.trim(), secretValue, existing);

  const submit = async () => {
    setTouched(true);
    if (!check.ok || busy) return;
    setBusy(true);
    setFailure(null);
    const n = name.trim();
    try {
      const created = await saveSecret(n, secretValue);
      setSecretValue("");
      showSuccess(created ? `Secret “${n}” created` : `Secret “${n}” replaced`, "The flow refers to it by name; its value stays on the server.");
      onSaved(n);
    } catch (e) {
      const err = toApiError(e);
      setFailure(`${err.title}${err.detail ? `: ${err.detail}` : ""}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="secret-new"
      data-testid={`field-${path}-secret-form`}
      aria-label="New secret"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <label className="field-label" htmlFor={`${idPrefix}-secret-name`}>
        Secret name
      </label>
      <input
        id={`${idPrefix}-secret-name`}
        className="input"
        data-testid={`field-${path}-secret-name`}
        value={name}
        spellCheck={false}
        autoComplete="off"
        aria-invalid={(touched && !!check.nameError) || undefined}
        onChange={(e) => setName(e.target.value)}
      />
      {touched && check.nameError ? <div className="field-error">{check.nameError}</div> : null}
      {check.replaces ? (
        <div className="field-warning" data-testid={`field-${path}-secret-replaces`}>
          “{name.trim()}” exists: its value will be replaced for every flow that uses it.
        </div>
      ) : null}
      <label className="field-label" htmlFor={`${idPrefix}-secret-value`}>
        Value
      </label>
      <input
        id={`${idPrefix}-secret-value`}
        className="input"
        type="password"
        autoComplete="new-password"
        data-testid={`field-${path}-secret-value`}
        value={secretValue}
        aria-invalid={(touched && !!check.valueError) || undefined}
        onChange={(e) => setSecretValue(e.target.value)}
      />
      {touched && check.valueError ? <div className="field-error">{check.valueError}</div> : null}
      {failure ? (
        <div className="field-error" role="alert" data-testid={`field-${path}-secret-error`}>
          {failure}
        </div>
      ) : null}
      <div className="field-help">
        <Icon name="lock" size={12} /> Kept encrypted on the server; the flow stores only the name.
      </div>
      <div className="secret-actions">
        <button type="button" className="btn btn-small" data-testid={`field-${path}-secret-cancel`} onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="btn btn-small btn-primary" data-testid={`field-${path}-secret-save`} disabled={busy || (touched && !check.ok)}>
          {busy ? "Saving…" : check.replaces ? "Replace and use" : "Create and use"}
        </button>
      </div>
    </form>
  );
}
