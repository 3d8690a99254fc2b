/** Live numbers of one node (records in/out, records/s); subscribes to that node's metrics only. */

import { memo } from "react";
import { formatCount, formatRate, nodeRate, sumValues } from "../model/format";
import { nodeRunState } from "../model/runState";
import { useNodeErrors, useNodeMetrics, useRun } from "../state/editorStores";

/** `hasInputs` / `hasOutputs`: a source shows no "in", a sink no "out" (always 0 there). */
export const NodeRuntime = memo(function NodeRuntime({ id, hasInputs = true, hasOutputs = true }: { id: string; hasInputs?: boolean; hasOutputs?: boolean }) {
  const m = useNodeMetrics(id);
  const run = useRun();
  const errors = useNodeErrors(id);
  const state = nodeRunState(run?.state ?? "configured", m, { runtimeErrors: errors?.length ?? 0, isErrorNode: run?.error_node === id });
  if (!m && state === "none") return null;
  const recordsIn = sumValues(m?.records_in);
  const recordsOut = sumValues(m?.records_out);
  const rate = nodeRate(m);
  // The exact numbers ride along as data attributes: the strip shows them rounded (12.3k).
  return (
    <div
      className={`df-node-runtime rt-${state}`}
      data-testid={`node-metrics-${id}`}
      data-state={state}
      data-records-in={recordsIn}
      data-records-out={recordsOut}
      data-rate={Math.round(rate)}
      title={`Node ${m?.state ?? state}`}
    >
      <span className="rt-dot" aria-hidden />
      {hasInputs ? (
        <span title="Records in">
          in <b>{formatCount(recordsIn)}</b>
        </span>
      ) : null}
      {hasOutputs ? (
        <span title="Records out">
          out <b>{formatCount(recordsOut)}</b>
        </span>
      ) : null}
      <span className="rt-rate" title="Records per second">
        {formatRate(rate)}
      </span>
      {m && m.errors > 0 ? (
        <span className="rt-errors" title={m.last_error ?? "errors"}>
          {formatCount(m.errors)} err
        </span>
      ) : null}
    </div>
  );
});
