/** Edit a node's whole config as JSON (for processors the form cannot describe, or power users). */

import { useEffect, useState } from "react";
import type { JsonObject } from "../api/types";

export function ConfigJsonEditor({ config, readOnly = false, onApply }: { config: JsonObject; readOnly?: boolean; onApply: (c: JsonObject) => void }) {
  const external = JSON.stringify(config, null, 2);
  const [text, setText] = useState(external);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setText(external), [external]);
  const apply = () => {
    if (readOnly) return;
    try {
      const v: unknown = JSON.parse(text || "{}");
      if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("the config must be a JSON object");
      setError(null);
      if (JSON.stringify(v) !== JSON.stringify(config)) onApply(v as JsonObject);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div className="config-json">
      <textarea
        className="input mono"
        rows={Math.min(24, Math.max(6, text.split("\n").length + 1))}
        value={text}
        spellCheck={false}
        data-testid="config-json"
        aria-label="Config as JSON"
        readOnly={readOnly}
        onChange={(e) => setText(e.target.value)}
        onBlur={apply}
      />
      {error ? (
        <div className="field-error" data-testid="config-json-error">
          Not applied: {error}
        </div>
      ) : (
        <div className="field-help">{readOnly ? "Read-only." : "Applied when the box loses focus. Keys left out use their defaults."}</div>
      )}
    </div>
  );
}
