/** A processor on the canvas: icon, name, type, run state, one labelled handle per port. */

import { Handle, Position, useUpdateNodeInternals, type NodeProps } from "@xyflow/react";
import { memo, useEffect, useMemo, useRef } from "react";
import { Icon, processorIconName } from "../components/Icon";
import type { ProcessorRfNode } from "../model/graph";
import { derivePorts, handleId, portsKey, type PortSpec } from "../model/ports";
import { useCatalog } from "../state/catalog";
import { useNodePorts, useUsedPorts } from "../state/editorStores";
import { NodeBadge } from "./NodeBadge";
import { NodeRuntime } from "./NodeRuntime";

const NO_PORTS = { inputs: [], outputs: [] };

function PortRow({ nodeId, port }: { nodeId: string; port: PortSpec }) {
  const isIn = port.kind === "in";
  const cls = `port port-${port.kind}${port.failure ? " port-failure" : ""}${port.missing ? " port-missing" : ""}`;
  return (
    <div className={cls} title={port.missing ? `Port "${port.name}" is not offered by this processor any more` : undefined}>
      <Handle
        type={isIn ? "target" : "source"}
        position={isIn ? Position.Left : Position.Right}
        id={handleId(port.kind, port.name)}
        data-testid={`handle-${nodeId}-${port.kind}-${port.name}`}
        aria-label={`${isIn ? "Input" : "Output"} port ${port.name}`}
        className={`df-handle df-handle-${port.kind}`}
      />
      <span className="port-label">{port.name}</span>
    </div>
  );
}

function ProcessorNodeView({ id, data, selected }: NodeProps<ProcessorRfNode>) {
  const { byType } = useCatalog();
  const info = byType.get(data.type);
  const used = useUsedPorts(id) ?? NO_PORTS;
  const declared = useNodePorts(id);
  const ports = useMemo(() => derivePorts(info, declared, id, used), [info, declared, id, used]);
  const key = portsKey(ports);
  const updateNodeInternals = useUpdateNodeInternals();
  const mountedKey = useRef(key);
  useEffect(() => {
    // Re-measure handles when ports appear or vanish; not on mount (React Flow measures then,
    // and an early call would resolve the initial fitView before the other nodes are measured).
    if (mountedKey.current === key) return;
    mountedKey.current = key;
    updateNodeInternals(id);
  }, [id, key, updateNodeInternals]);

  const category = info?.category ?? "unknown";
  const rows = Math.max(ports.inputs.length, ports.outputs.length);
  return (
    <div
      className={`df-node cat-${category}${selected ? " selected" : ""}${info ? "" : " unknown-type"}`}
      data-testid={`node-${id}`}
      data-type={data.type}
      aria-label={`${info?.title ?? data.type} node ${data.name || id}`}
    >
      <div className="df-node-header">
        <span className="df-node-icon" aria-hidden>
          <Icon name={processorIconName(info?.icon, data.type, info?.category)} size={16} />
        </span>
        <div className="df-node-titles">
          <div className="df-node-name" title={data.name || id}>
            {data.name || id}
          </div>
          <div className="df-node-type">
            {info?.title ?? data.type}
            {info ? "" : " (unknown type)"}
          </div>
        </div>
        <NodeBadge id={id} />
      </div>
      {rows > 0 ? (
        <div className="df-node-ports">
          <div className="ports-col ports-in">
            {ports.inputs.map((p) => (
              <PortRow key={p.name} nodeId={id} port={p} />
            ))}
          </div>
          <div className="ports-col ports-out">
            {ports.outputs.map((p) => (
              <PortRow key={p.name} nodeId={id} port={p} />
            ))}
          </div>
        </div>
      ) : null}
      <NodeRuntime id={id} hasInputs={!info || ports.inputs.length > 0} hasOutputs={!info || ports.outputs.length > 0} />
    </div>
  );
}

export const ProcessorNode = memo(ProcessorNodeView);
