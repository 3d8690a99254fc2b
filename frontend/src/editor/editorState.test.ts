import { describe, expect, it } from "vitest";
import { sampleFlow } from "../test/fixtures";
import type { Flow } from "../api/types";
import { updateNode } from "../model/edits";
import { editorReducer, initEditorState, isDirty } from "./editorState";

const withInterval = (f: Flow, n: number): Flow => ({ ...f, settings: { ...f.settings, checkpoint_interval_seconds: n } });

describe("editor state", () => {
  it("a drag is one undo step and marks the document dirty", () => {
    let s = initEditorState(sampleFlow(), 3);
    expect(isDirty(s)).toBe(false);
    s = editorReducer(s, { type: "node-changes", changes: [{ type: "position", id: "filter-1", position: { x: 1, y: 1 }, dragging: true }] });
    s = editorReducer(s, { type: "node-changes", changes: [{ type: "position", id: "filter-1", position: { x: 50, y: 60 }, dragging: true }] });
    expect(s.history.past).toHaveLength(0);
    s = editorReducer(s, { type: "node-changes", changes: [{ type: "position", id: "filter-1", dragging: false }] });
    expect(s.history.past).toHaveLength(1);
    expect(isDirty(s)).toBe(true);
    s = editorReducer(s, { type: "undo" });
    expect(isDirty(s)).toBe(false);
    expect(s.history.present.nodes[1]!.position).toEqual({ x: 300, y: 0 });
  });

  it("saving makes it clean; edits made while saving stay dirty", () => {
    let s = initEditorState(sampleFlow(), 1);
    s = editorReducer(s, { type: "edit", update: (f) => updateNode(f, "filter-1", { name: "x" }) });
    const sent = s.history.present;
    const echo = structuredClone(sent);
    s = editorReducer(s, { type: "saved", flow: echo, version: 2, sent });
    expect(isDirty(s)).toBe(false);
    expect(s.version).toBe(2);
    expect(s.history.present).toBe(sent); // unchanged echo keeps references
    s = editorReducer(s, { type: "edit", update: (f) => updateNode(f, "filter-1", { name: "y" }) });
    const sent2 = s.history.present;
    s = editorReducer(s, { type: "edit", update: (f) => updateNode(f, "filter-1", { name: "z" }) });
    s = editorReducer(s, { type: "saved", flow: structuredClone(sent2), version: 3, sent: sent2 });
    expect(isDirty(s)).toBe(true);
    expect(s.version).toBe(3);
  });

  it("settings edits are undoable, mark the flow dirty, and survive other edits and saves", () => {
    let s = initEditorState({ ...sampleFlow(), settings: { delivery: "exactly_once", checkpoint_interval_seconds: 2 } }, 1);
    expect(s.history.present.settings).toEqual({ delivery: "exactly_once", checkpoint_interval_seconds: 2 });
    s = editorReducer(s, { type: "edit", update: (f) => withInterval(f, 3), key: "flow:settings.checkpoint_interval_seconds" });
    s = editorReducer(s, { type: "edit", update: (f) => withInterval(f, 30), key: "flow:settings.checkpoint_interval_seconds" });
    expect(isDirty(s)).toBe(true);
    expect(s.history.past).toHaveLength(1); // typing "30" is one step
    s = editorReducer(s, { type: "undo" });
    expect(isDirty(s)).toBe(false);
    expect(s.history.present.settings.checkpoint_interval_seconds).toBe(2);
    s = editorReducer(s, { type: "edit", update: (f) => updateNode(f, "filter-1", { name: "renamed" }) });
    const sent = s.history.present;
    expect(sent.settings).toEqual({ delivery: "exactly_once", checkpoint_interval_seconds: 2 });
    s = editorReducer(s, { type: "saved", flow: structuredClone(sent), version: 2, sent });
    expect(s.history.present.settings).toEqual({ delivery: "exactly_once", checkpoint_interval_seconds: 2 });
  });

  it("deleting a selected node prunes the selection", () => {
    let s = initEditorState(sampleFlow(), 1);
    s = editorReducer(s, { type: "select", nodes: ["filter-1"], edges: ["e-1"] });
    s = editorReducer(s, { type: "node-changes", changes: [{ type: "remove", id: "filter-1" }] });
    expect(s.view.selectedNodes.size).toBe(0);
    expect(s.view.selectedEdges.size).toBe(0);
    expect(s.history.present.edges).toHaveLength(0);
  });
});
