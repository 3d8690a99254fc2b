import { describe, expect, it } from "vitest";
import { canRedo, canUndo, commit, createHistory, HISTORY_LIMIT, redo, replacePresent, undo } from "./history";

describe("undo/redo stack", () => {
  it("undoes and redoes commits in order", () => {
    let h = createHistory("a");
    h = commit(h, "b");
    h = commit(h, "c");
    expect(canUndo(h)).toBe(true);
    h = undo(h);
    expect(h.present).toBe("b");
    h = undo(h);
    expect(h.present).toBe("a");
    expect(canUndo(h)).toBe(false);
    expect(undo(h)).toBe(h);
    h = redo(h);
    expect(h.present).toBe("b");
    h = redo(h);
    expect(h.present).toBe("c");
    expect(canRedo(h)).toBe(false);
  });

  it("a new commit clears the redo future", () => {
    let h = commit(commit(createHistory(1), 2), 3);
    h = undo(h);
    h = commit(h, 4);
    expect(h.future).toEqual([]);
    expect(undo(h).present).toBe(2);
  });

  it("coalesces typing into one field within the window", () => {
    let h = createHistory("");
    h = commit(h, "s", { key: "n1.name", now: 1000 });
    h = commit(h, "se", { key: "n1.name", now: 1500 });
    h = commit(h, "sel", { key: "n1.name", now: 1900 });
    expect(h.past).toEqual([""]);
    h = commit(h, "sel!", { key: "n1.name", now: 5000 });
    expect(h.past).toEqual(["", "sel"]);
    h = commit(h, "x", { key: "other", now: 5100 });
    expect(h.past).toEqual(["", "sel", "sel!"]);
  });

  it("records a drag as one step from where it started", () => {
    let h = createHistory({ x: 0 });
    const start = h.present;
    h = replacePresent(h, { x: 5 });
    h = replacePresent(h, { x: 10 });
    expect(h.past).toEqual([]);
    h = commit(h, h.present, { base: start });
    expect(h.past).toEqual([start]);
    expect(undo(h).present).toBe(start);
  });

  it("ignores no-op commits and caps its size", () => {
    const h0 = createHistory(0);
    expect(commit(h0, 0)).toBe(h0);
    let h = h0;
    for (let i = 1; i <= HISTORY_LIMIT + 50; i++) h = commit(h, i);
    expect(h.past.length).toBe(HISTORY_LIMIT);
  });
});
