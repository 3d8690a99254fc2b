/** Stable editor callbacks for components rendered by React Flow (node/edge data stays plain JSON). */

import { createContext, useContext } from "react";

export interface EditorActions {
  selectNode: (id: string) => void;
  selectEdge: (id: string) => void;
}

export const EditorActionsContext = createContext<EditorActions>({ selectNode: () => {}, selectEdge: () => {} });

export const useEditorActions = () => useContext(EditorActionsContext);
