/** Raw JSON for values the form cannot model; applied when it parses. */

import { useEffect, useState } from "react";
import type { JsonValue } from "../api/types";
import type { FieldModel } from "../model/schemaForm";
import { domId, useFormState } from "./formContext";

export function JsonInput({ field, value }: { field: FieldModel; value: unknown }) {
  const { idPrefix, onChange } = useFormState();
  const external = value === undefined ? "" : JSON.stringify(value, null, 2);
  const [text, setText] = useState(external);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setText(external);
    setError(null);
  }, [external]);
  return (
    <>
      <textarea
        id={domId(idPrefix, field.path)}
        className="input mono"
        rows={Math.min(10, Math.max(2, text.split("\n").length))}
        data-testid={`field-${field.path}`}
        value={text}
        placeholder={field.default !== undefined ? JSON.stringify(field.default) : "JSON value"}
        spellCheck={false}
        onChange={(e) => setText(e.target.value)}
        onBlur={() => {
          if (text.trim() === "") {
            setError(null);
            onChange(field.path, undefined);
            return;
          }
          try {
            onChange(field.path, JSON.parse(text) as JsonValue);
            setError(null);
          } catch (e) {
            setError(`Not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
          }
        }}
      />
      {error ? <div className="field-error">{error}</div> : null}
    </>
  );
}
