/** Right panel: properties of the selected node or connection, or of the flow when nothing is selected. */

import { memo, type Dispatch } from "react";
import type { Flow } from "../api/types";
import type { IssueIndex } from "../model/errorPaths";
import type { ViewState } from "../model/graph";
import { EdgeInspector } from "./EdgeInspector";
import type { EditorAction } from "./editorState";
import { FlowInspector } from "./FlowInspector";
import { MultiInspector } from "./MultiInspector";
import { NodeInspector } from "./NodeInspector";

export interface InspectorProps {
  flowId: string;
  doc: Flow;
  view: ViewState;
  dispatch: Dispatch<EditorAction>;
  issues: IssueIndex;
}

function InspectorImpl({ flowId, doc, view, dispatch, issues }: InspectorProps) {
  const nodeIds = [...view.selectedNodes];
  const edgeIds = [...view.selectedEdges];
  let body: React.ReactNode;
  if (nodeIds.length === 1) {
    const node = doc.nodes.find((n) => n.id === nodeIds[0]);
    body = node ? <NodeInspector key={node.id} node={node} doc={doc} dispatch={dispatch} /> : null;
  } else if (nodeIds.length === 0 && edgeIds.length === 1) {
    const edge = doc.edges.find((e) => e.id === edgeIds[0]);
    body = edge ? <EdgeInspector key={edge.id} flowId={flowId} edge={edge} doc={doc} dispatch={dispatch} /> : null;
  } else if (nodeIds.length + edgeIds.length > 1) {
    body = <MultiInspector nodeIds={nodeIds} edgeIds={edgeIds} dispatch={dispatch} />;
  } else {
    body = <FlowInspector doc={doc} dispatch={dispatch} issues={issues} />;
  }
  return (
    <aside className="inspector" data-testid="inspector" aria-label="Inspector">
      {body}
    </aside>
  );
}

export const Inspector = memo(InspectorImpl);
