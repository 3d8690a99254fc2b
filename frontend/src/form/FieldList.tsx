/** A list of fields with the x-advanced ones folded into an "Advanced" section. */

import { useEffect, useState } from "react";
import { partitionAdvanced, type FieldModel } from "../model/schemaForm";
import { Field } from "./Field";
import { useFormState } from "./formContext";

export function FieldList({ fields, scope }: { fields: readonly FieldModel[]; scope: string }) {
  const { issues } = useFormState();
  const { basic, advanced } = partitionAdvanced(fields);
  const advancedHasIssue = advanced.some((f) => issues?.some((i) => i.field !== undefined && (i.field === f.path || i.field.startsWith(`${f.path}.`))));
  const [open, setOpen] = useState(advancedHasIssue);
  useEffect(() => {
    if (advancedHasIssue) setOpen(true);
  }, [advancedHasIssue]);
  return (
    <>
      {basic.map((f) => (
        <Field key={f.path} field={f} />
      ))}
      {advanced.length > 0 ? (
        <details className="advanced" open={open} onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)} data-testid={`advanced-${scope || "config"}`}>
          <summary data-testid={`advanced-toggle-${scope || "config"}`}>
            Advanced <span className="muted">({advanced.length})</span>
            {advancedHasIssue ? <span className="dot-error" aria-label="has problems" /> : null}
          </summary>
          <div className="advanced-body">
            {advanced.map((f) => (
              <Field key={f.path} field={f} />
            ))}
          </div>
        </details>
      ) : null}
    </>
  );
}
