/** CodeMirror 6 with SQL / Python / Jinja highlighting (loaded lazily: it is the largest dependency). */

import { python } from "@codemirror/lang-python";
import { sql } from "@codemirror/lang-sql";
import { StreamLanguage } from "@codemirror/language";
import { jinja2 } from "@codemirror/legacy-modes/mode/jinja2";
import CodeMirror, { EditorView, type Extension } from "@uiw/react-codemirror";
import { useMemo } from "react";
import type { CodeLanguage } from "../model/schemaForm";

export interface CodeEditorProps {
  value: string;
  onChange: (value: string) => void;
  language: CodeLanguage;
  placeholder?: string;
  testId: string;
  label: string;
  invalid?: boolean;
  id?: string;
  /** Extra words to complete (column names from upstream). */
  minHeight?: string;
  readOnly?: boolean;
}

const theme = EditorView.theme({
  "&": { fontSize: "12px", border: "1px solid var(--border)", borderRadius: "4px", background: "#fff" },
  "&.cm-focused": { outline: "2px solid var(--focus)", outlineOffset: "0" },
  ".cm-content": { fontFamily: "var(--mono)", padding: "4px 0" },
  ".cm-scroller": { maxHeight: "240px", overflow: "auto" },
  ".cm-placeholder": { color: "#94a3b8" },
});

function languageExtension(lang: CodeLanguage): Extension {
  switch (lang) {
    case "sql":
      return sql();
    case "python":
      return python();
    case "template":
      return StreamLanguage.define(jinja2);
  }
}

export default function CodeEditor({ value, onChange, language, placeholder, testId, label, invalid, id, minHeight, readOnly = false }: CodeEditorProps) {
  const extensions = useMemo(
    () => [
      languageExtension(language),
      theme,
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({ "data-testid": testId, "aria-label": label, ...(id ? { id } : {}), ...(invalid ? { "aria-invalid": "true" } : {}), ...(readOnly ? { "aria-readonly": "true" } : {}) }),
    ],
    [language, testId, label, id, invalid, readOnly],
  );
  return (
    <CodeMirror
      className={`code-editor lang-${language}${invalid ? " invalid" : ""}`}
      value={value}
      onChange={onChange}
      extensions={extensions}
      editable={!readOnly}
      readOnly={readOnly}
      placeholder={placeholder}
      minHeight={minHeight ?? (language === "sql" ? "28px" : "72px")}
      basicSetup={{
        lineNumbers: language !== "sql",
        foldGutter: false,
        highlightActiveLine: false,
        highlightActiveLineGutter: false,
        autocompletion: true,
        searchKeymap: false,
      }}
      indentWithTab={false}
    />
  );
}
