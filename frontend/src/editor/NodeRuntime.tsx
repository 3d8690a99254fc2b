/** Live numbers of one node (records in/out, records/s); subscribes to that node's metrics only. */

import { memo } from "react";
import { formatCount, formatRate, nodeRate, sumValues } from "../model/format";
import { nodeRunState } from "../model/runState";
import { useNodeErrors, useNodeMetrics, useRun } from "../state/editorStores";

export const NodeRuntime = memo(function NodeRuntime({ id }: { id: string }) {
  const m = useNodeMetrics(id);
  const run = useRun();
  const errors = useNodeErrors(id);
  const state = nodeRunState(run?.state ?? "configured", m, { runtimeErrors: errors?.length ?? 0, isErrorNode: run?.error_node === id });
  if (!m && state === "none") return null;
  return (
    <div className={`df-node-runtime rt-${state}`} data-testid={`node-metrics-${id}`} data-state={state} title={`Node ${m?.state ?? state}`}>
      <span className="rt-dot" aria-hidden />
      <span title="Records in">
        in <b>{formatCount(sumValues(m?.records_in))}</b>
      </span>
      <span title="Records out">
        out <b>{formatCount(sumValues(m?.records_out))}</b>
      </span>
      <span className="rt-rate" title="Records per second">
        {formatRate(nodeRate(m))}
      </span>
      {m && m.errors > 0 ? (
        <span className="rt-errors" title={m.last_error ?? "errors"}>
          {formatCount(m.errors)} err
        </span>
      ) : null}
    </div>
  );
});
