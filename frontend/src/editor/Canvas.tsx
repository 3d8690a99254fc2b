/** The React Flow canvas: renders the document, turns gestures into editor actions. */

import {
  Background,
  BackgroundVariant,
  ConnectionMode,
  Controls,
  MarkerType,
  MiniMap,
  ReactFlow,
  useReactFlow,
  type Connection,
  type EdgeChange,
  type EdgeTypes,
  type FinalConnectionState,
  type IsValidConnection,
  type NodeChange,
  type NodeTypes,
} from "@xyflow/react";
import { memo, useCallback, useMemo, useRef, useState, type Dispatch } from "react";
import type { Flow } from "../api/types";
import { checkConnection } from "../model/connection";
import { addEdge, addNode, makeNode } from "../model/edits";
import { toRfEdges, toRfNodes, type FlowRfEdge, type ProcessorRfNode, type ViewState } from "../model/graph";
import { useCatalog } from "../state/catalog";
import { useEditorStores } from "../state/editorStores";
import { showWarning } from "../state/toasts";
import type { EditorAction } from "./editorState";
import { FlowEdgeView } from "./FlowEdgeView";
import { ProcessorNode } from "./ProcessorNode";

export const PALETTE_MIME = "application/x-dataflow-processor";

const nodeTypes: NodeTypes = { processor: ProcessorNode };
const edgeTypes: EdgeTypes = { flow: FlowEdgeView };
// Arrow size in pixels, not stroke widths: edges thicken with queue fill and when selected,
// and a stroke-relative marker would grow with them (4 px wide = a 56 px arrow).
const defaultEdgeOptions = { markerEnd: { type: MarkerType.ArrowClosed, width: 20, height: 20, markerUnits: "userSpaceOnUse", color: "#64748b" } };
const fitViewOptions = { padding: 0.2, maxZoom: 1.2 };
const MINIMAP_STYLE = { width: 168, height: 112 };
const DELETE_KEYS = ["Delete", "Backspace"];
const CATEGORY_COLORS: Record<string, string> = { source: "#16a34a", transform: "#2563eb", sink: "#9333ea" };

interface CanvasProps {
  doc: Flow;
  view: ViewState;
  dispatch: Dispatch<EditorAction>;
  /** Nodes can be selected and inspected, not moved, connected, dropped or deleted. */
  readOnly?: boolean;
}

function pointOf(event: MouseEvent | TouchEvent): { x: number; y: number } | null {
  if ("changedTouches" in event) {
    const t = event.changedTouches[0];
    return t ? { x: t.clientX, y: t.clientY } : null;
  }
  return { x: event.clientX, y: event.clientY };
}

function CanvasImpl({ doc, view, dispatch, readOnly = false }: CanvasProps) {
  const { byType } = useCatalog();
  const stores = useEditorStores();
  const declared = useCallback((id: string) => stores.nodePorts.get(id), [stores]);
  const rf = useReactFlow<ProcessorRfNode, FlowRfEdge>();
  const nodeCache = useRef(new Map<string, ProcessorRfNode>());
  const edgeCache = useRef(new Map<string, FlowRfEdge>());
  const docRef = useRef(doc);
  docRef.current = doc;
  // Fit only a flow that opens with nodes: on an empty canvas React Flow would keep the fit
  // queued and, at the first drop, jump the view to centre and zoom that node.
  const [fitOnOpen] = useState(() => doc.nodes.length > 0);

  const nodes = useMemo(() => toRfNodes(doc, view, nodeCache.current), [doc, view]);
  const edges = useMemo(() => toRfEdges(doc, view, edgeCache.current), [doc, view]);

  // Read-only, only selection and measured sizes get through: never a move or a removal.
  const onNodesChange = useCallback(
    (changes: NodeChange<ProcessorRfNode>[]) => dispatch({ type: "node-changes", changes: readOnly ? changes.filter((c) => c.type === "select" || c.type === "dimensions") : changes }),
    [dispatch, readOnly],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange<FlowRfEdge>[]) => dispatch({ type: "edge-changes", changes: readOnly ? changes.filter((c) => c.type === "select") : changes }),
    [dispatch, readOnly],
  );

  const isValidConnection: IsValidConnection<FlowRfEdge> = useCallback(
    (c) => checkConnection(docRef.current, byType, { fromNode: c.source, fromHandle: c.sourceHandle ?? null, toNode: c.target, toHandle: c.targetHandle ?? null }, declared).ok,
    [byType, declared],
  );

  const connect = useCallback(
    (attempt: Parameters<typeof checkConnection>[2]) => {
      const r = checkConnection(docRef.current, byType, attempt, declared);
      if (!r.ok) {
        showWarning("Connection refused", r.reason);
        return;
      }
      dispatch({ type: "edit", update: (f) => addEdge(f, r.edge).flow });
    },
    [byType, declared, dispatch],
  );

  const onConnect = useCallback(
    (c: Connection) => connect({ fromNode: c.source, fromHandle: c.sourceHandle ?? null, toNode: c.target, toHandle: c.targetHandle ?? null }),
    [connect],
  );

  const onConnectEnd = useCallback(
    (event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      if (state.isValid || !state.fromNode || !state.fromHandle) return;
      let toNode = state.toNode?.id ?? null;
      const toHandle = state.toHandle?.id ?? null;
      if (!toNode) {
        const p = pointOf(event);
        const el = p ? document.elementFromPoint(p.x, p.y) : null;
        toNode = el?.closest(".react-flow__node")?.getAttribute("data-id") ?? null;
      }
      if (!toNode) return; // dropped on the empty canvas: the user let go
      const fromHandle = state.fromHandle.id ?? null;
      if (toNode === state.fromNode.id && toHandle === fromHandle) return;
      connect({ fromNode: state.fromNode.id, fromHandle, toNode, toHandle });
    },
    [connect],
  );

  const onDragOver = useCallback((e: React.DragEvent) => {
    if (!readOnly && e.dataTransfer.types.includes(PALETTE_MIME)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    }
  }, [readOnly]);

  const onDrop = useCallback(
    (e: React.DragEvent) => {
      const type = e.dataTransfer.getData(PALETTE_MIME);
      if (!type || readOnly) return;
      e.preventDefault();
      const info = byType.get(type);
      if (!info) {
        showWarning("Unknown processor", `"${type}" is not in the catalog.`);
        return;
      }
      const p = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
      const node = makeNode(docRef.current, info, { x: Math.round((p.x - 100) / 8) * 8, y: Math.round((p.y - 24) / 8) * 8 });
      dispatch({ type: "edit", update: (f) => (f.nodes.some((n) => n.id === node.id) ? f : addNode(f, node)), select: { nodes: [node.id], edges: [] } });
    },
    [byType, dispatch, rf, readOnly],
  );

  const miniMapColor = useCallback((n: ProcessorRfNode) => CATEGORY_COLORS[byType.get(n.data.type)?.category ?? ""] ?? "#64748b", [byType]);

  return (
    <div className="canvas" data-testid="canvas" data-read-only={readOnly || undefined} onDragOver={onDragOver} onDrop={onDrop}>
      <ReactFlow<ProcessorRfNode, FlowRfEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        onConnectEnd={onConnectEnd}
        isValidConnection={isValidConnection}
        connectionMode={ConnectionMode.Loose}
        connectionRadius={24}
        defaultEdgeOptions={defaultEdgeOptions}
        deleteKeyCode={readOnly ? null : DELETE_KEYS}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        edgesReconnectable={!readOnly}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={["Shift", "Meta", "Control"]}
        snapToGrid
        snapGrid={[8, 8]}
        minZoom={0.05}
        maxZoom={2.5}
        fitView={fitOnOpen}
        fitViewOptions={fitViewOptions}
        proOptions={{ hideAttribution: false }}
        aria-label="Flow canvas"
      >
        <Background variant={BackgroundVariant.Dots} gap={16} size={1} color="#cbd5e1" />
        <Controls showInteractive={false} position="bottom-left" aria-label="Zoom controls" />
        <MiniMap pannable zoomable nodeColor={miniMapColor} nodeStrokeWidth={2} position="bottom-right" ariaLabel="Mini map" style={MINIMAP_STYLE} />
      </ReactFlow>
      {doc.nodes.length === 0 ? (
        <div className="canvas-empty" data-testid="canvas-empty">
          <div>{readOnly ? "This flow has no nodes yet" : "Drag a processor from the palette onto the canvas"}</div>
          <div className="muted small">Connect an output port (right) to an input port (left). Press ? for shortcuts.</div>
        </div>
      ) : null}
    </div>
  );
}

export const Canvas = memo(CanvasImpl);
