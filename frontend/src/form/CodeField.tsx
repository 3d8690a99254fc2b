/** A sql / python / template field: a highlighted code editor, with a plain textarea while it loads. */

import { lazy, Suspense } from "react";
import type { CodeField as CodeFieldModel } from "../model/schemaForm";
import { placeholderOf } from "../model/schemaForm";
import { domId, useFormState } from "./formContext";

const CodeEditor = lazy(() => import("./CodeEditor"));

export function CodeField({ field, value }: { field: CodeFieldModel; value: unknown }) {
  const { idPrefix, onChange, issues, readOnly } = useFormState();
  const text = typeof value === "string" ? value : "";
  const invalid = !!issues?.some((i) => i.field === field.path && i.severity !== "warning");
  const set = (v: string) => onChange(field.path, v === "" && !field.required ? undefined : v);
  const id = domId(idPrefix, field.path);
  return (
    <Suspense
      fallback={
        <textarea className="input mono" id={id} rows={2} value={text} readOnly={readOnly} placeholder={placeholderOf(field)} aria-label={field.title} onChange={(e) => set(e.target.value)} />
      }
    >
      <CodeEditor
        id={id}
        value={text}
        onChange={set}
        language={field.language}
        placeholder={placeholderOf(field)}
        testId={`field-${field.path}`}
        label={field.title}
        invalid={invalid}
        readOnly={readOnly}
      />
    </Suspense>
  );
}
