/**
 * Per-editor stores that canvas nodes and edges subscribe to by id: live metrics,
 * run state, runtime errors, validation issues, and port usage. A metrics tick or a
 * validation result re-renders only the nodes whose values changed.
 */

import { createContext, useContext } from "react";
import type { Column, DeclaredPorts, EdgeMetrics, FlowMetrics, NodeMetrics, RunInfo, RunState } from "../api/types";
import type { IssueIndex, LocatedIssue } from "../model/errorPaths";
import type { UsedPorts } from "../model/ports";
import { jsonEqual, KeyedStore, useKeyed } from "./keyedStore";

export const RUN_KEY = "run";

export class EditorStores {
  readonly nodeMetrics = new KeyedStore<NodeMetrics>(jsonEqual);
  readonly edgeMetrics = new KeyedStore<EdgeMetrics>(jsonEqual);
  /** Runtime errors pushed by the WebSocket, newest last. */
  readonly nodeErrors = new KeyedStore<readonly string[]>(jsonEqual);
  readonly run = new KeyedStore<RunInfo>(jsonEqual);
  readonly nodeIssues = new KeyedStore<readonly LocatedIssue[]>(jsonEqual);
  readonly edgeIssues = new KeyedStore<readonly LocatedIssue[]>(jsonEqual);
  readonly nodeSchemas = new KeyedStore<Record<string, Column[]>>(jsonEqual);
  readonly usedPorts = new KeyedStore<UsedPorts>(jsonEqual);
  /** The ports each node has for its config, from the last validation report. */
  readonly nodePorts = new KeyedStore<DeclaredPorts>(jsonEqual);
  /** Elapsed seconds of the current run, as a single key. */
  readonly elapsed = new KeyedStore<number>();

  setMetrics(m: FlowMetrics): void {
    this.nodeMetrics.replaceAll(Object.entries(m.nodes ?? {}));
    this.edgeMetrics.replaceAll(Object.entries(m.edges ?? {}));
    this.elapsed.set(RUN_KEY, m.elapsed);
    const run = this.run.get(RUN_KEY);
    if (run && m.state && run.state !== m.state) this.run.set(RUN_KEY, { ...run, state: m.state as RunState });
  }

  setRun(run: RunInfo): void {
    this.run.set(RUN_KEY, run);
    if (run.error && run.error_node) this.addNodeError(run.error_node, run.error);
  }

  addNodeError(nodeId: string, message: string): void {
    const prev = this.nodeErrors.get(nodeId) ?? [];
    if (prev[prev.length - 1] === message) return;
    this.nodeErrors.set(nodeId, [...prev, message].slice(-20));
  }

  clearRuntime(): void {
    this.nodeErrors.clear();
  }

  setIssues(index: IssueIndex): void {
    this.nodeIssues.replaceAll(index.byNode);
    this.edgeIssues.replaceAll(index.byEdge);
  }

  setSchemas(schemas: Record<string, Record<string, Column[]>>): void {
    this.nodeSchemas.replaceAll(Object.entries(schemas ?? {}));
  }

  setPorts(ports: Record<string, DeclaredPorts>): void {
    this.nodePorts.replaceAll(Object.entries(ports ?? {}));
  }
}

export const EditorStoresContext = createContext<EditorStores | null>(null);

export function useEditorStores(): EditorStores {
  const s = useContext(EditorStoresContext);
  if (!s) throw new Error("EditorStoresContext missing");
  return s;
}

export const useNodeMetrics = (id: string) => useKeyed(useEditorStores().nodeMetrics, id);
export const useEdgeMetrics = (id: string) => useKeyed(useEditorStores().edgeMetrics, id);
export const useNodeErrors = (id: string) => useKeyed(useEditorStores().nodeErrors, id);
export const useNodeIssues = (id: string) => useKeyed(useEditorStores().nodeIssues, id);
export const useEdgeIssues = (id: string) => useKeyed(useEditorStores().edgeIssues, id);
export const useNodeSchema = (id: string) => useKeyed(useEditorStores().nodeSchemas, id);
export const useUsedPorts = (id: string) => useKeyed(useEditorStores().usedPorts, id);
export const useNodePorts = (id: string) => useKeyed(useEditorStores().nodePorts, id);
export const useRun = () => useKeyed(useEditorStores().run, RUN_KEY);
export const useRunState = (): RunState => useRun()?.state ?? "configured";
