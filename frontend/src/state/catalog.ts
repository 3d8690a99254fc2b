/**
 * What the server declares, loaded once and shared by the palette, nodes and forms: the
 * processor catalog (GET /processors) and the flow document's schema (GET /schema/flow.json).
 */

import { createContext, useContext } from "react";
import type { FlowSchema, ProcessorInfo } from "../api/types";

export interface CatalogState {
  list: ProcessorInfo[];
  byType: ReadonlyMap<string, ProcessorInfo>;
  /** null until loaded. */
  flowSchema: FlowSchema | null;
  loading: boolean;
  error: string | null;
  reload: () => void;
}

export const emptyCatalog: CatalogState = { list: [], byType: new Map(), flowSchema: null, loading: true, error: null, reload: () => {} };

export const CatalogContext = createContext<CatalogState>(emptyCatalog);

export function useCatalog(): CatalogState {
  return useContext(CatalogContext);
}
