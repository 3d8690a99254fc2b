/** The processor catalog (GET /processors), loaded once and shared by the palette, nodes and forms. */

import { createContext, useContext } from "react";
import type { ProcessorInfo } from "../api/types";

export interface CatalogState {
  list: ProcessorInfo[];
  byType: ReadonlyMap<string, ProcessorInfo>;
  loading: boolean;
  error: string | null;
  reload: () => void;
}

export const emptyCatalog: CatalogState = { list: [], byType: new Map(), loading: true, error: null, reload: () => {} };

export const CatalogContext = createContext<CatalogState>(emptyCatalog);

export function useCatalog(): CatalogState {
  return useContext(CatalogContext);
}
