/** Red (errors) or yellow (warnings only) badge with a count; the tooltip lists the messages. */

import { memo } from "react";
import { useNodeErrors, useNodeIssues } from "../state/editorStores";

export const NodeBadge = memo(function NodeBadge({ id }: { id: string }) {
  const issues = useNodeIssues(id);
  const runtime = useNodeErrors(id);
  const errors = (issues ?? []).filter((i) => i.severity !== "warning");
  const warnings = (issues ?? []).filter((i) => i.severity === "warning");
  const runtimeErrors = runtime ?? [];
  const count = errors.length + runtimeErrors.length;
  if (count === 0 && warnings.length === 0) return null;
  const lines = [
    ...runtimeErrors.map((m) => `Run error: ${m}`),
    ...errors.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)),
    ...warnings.map((i) => `Warning${i.field ? ` (${i.field})` : ""}: ${i.message}`),
  ];
  const text = lines.join("\n");
  return (
    <span
      className={`node-badge ${count > 0 ? "badge-error" : "badge-warning"}`}
      data-testid={`node-badge-${id}`}
      data-errors={count}
      data-warnings={warnings.length}
      title={text}
      aria-label={`${count} error${count === 1 ? "" : "s"}, ${warnings.length} warning${warnings.length === 1 ? "" : "s"}: ${text}`}
      role="img"
    >
      {count > 0 ? count : warnings.length}
    </span>
  );
});
