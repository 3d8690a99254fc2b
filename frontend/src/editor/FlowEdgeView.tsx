/** A connection: bezier path coloured by queue fill (grey -> orange -> red), label with port and fill. */

import { BaseEdge, EdgeLabelRenderer, getBezierPath, type EdgeProps } from "@xyflow/react";
import { memo } from "react";
import { fillColor } from "../model/format";
import type { FlowRfEdge } from "../model/graph";
import { useEdgeIssues, useEdgeMetrics, useRunState } from "../state/editorStores";
import { useEditorActions } from "./editorActions";

function FlowEdgeViewImpl({ id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, data, selected, markerEnd }: EdgeProps<FlowRfEdge>) {
  const [path, labelX, labelY] = getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition });
  const m = useEdgeMetrics(id);
  const issues = useEdgeIssues(id);
  const runState = useRunState();
  const { selectEdge } = useEditorActions();
  const hasError = (issues ?? []).some((i) => i.severity !== "warning");
  const live = !!m && (runState === "running" || runState === "paused");
  const ratio = m?.fill_ratio ?? 0;
  const color = hasError ? "#dc2626" : live ? fillColor(ratio) : selected ? "#2563eb" : "#94a3b8";
  const width = selected ? 2.5 : live ? 1.5 + ratio * 2.5 : 1.5;
  const port = data?.source_port && data.source_port !== "out" ? data.source_port : null;
  const maxBatches = m?.max_batches ?? data?.settings.max_batches ?? 0;
  return (
    <>
      <BaseEdge
        id={id}
        path={path}
        markerEnd={markerEnd}
        interactionWidth={18}
        style={{ stroke: color, strokeWidth: width, strokeDasharray: hasError ? "6 4" : undefined }}
      />
      <EdgeLabelRenderer>
        <div
          className={`df-edge-label nodrag nopan${selected ? " selected" : ""}${hasError ? " has-error" : ""}${port || m ? "" : " empty"}`}
          style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
          data-testid={`edge-${id}`}
          role="button"
          tabIndex={-1}
          aria-label={`Connection ${data?.source}.${data?.source_port} to ${data?.target}.${data?.target_port}`}
          title={issues?.map((i) => i.message).join("\n") || `${data?.source}.${data?.source_port} → ${data?.target}.${data?.target_port}`}
          onClick={(e) => {
            e.stopPropagation();
            selectEdge(id);
          }}
        >
          {port ? <span className="edge-port">{port}</span> : null}
          {m ? (
            <span
              className="edge-fill"
              data-testid={`edge-fill-${id}`}
              data-fill-ratio={ratio.toFixed(3)}
              style={{ borderColor: fillColor(ratio), color: ratio > 0.5 ? fillColor(ratio) : undefined }}
              title={`Queue: ${m.queued_batches}/${maxBatches} batches, fill ${(ratio * 100).toFixed(0)}%, back-pressured ${m.backpressure_seconds.toFixed(1)} s`}
            >
              {m.queued_batches}/{maxBatches}
            </span>
          ) : null}
        </div>
      </EdgeLabelRenderer>
    </>
  );
}

export const FlowEdgeView = memo(FlowEdgeViewImpl);
