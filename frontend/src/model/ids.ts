/** Id generation for nodes and edges: readable, unique in the flow, matching the server's id pattern. */

import { ID_PATTERN } from "../api/types";

/** Turn a processor type (or anything) into a valid id stem: `read_file` -> `read_file`. */
export function idStem(base: string): string {
  const cleaned = base.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "").slice(0, 50);
  return cleaned || "node";
}

/** `filter-1`, `filter-2`, ... : the first `${stem}-${n}` not taken. */
export function uniqueNodeId(base: string, taken: ReadonlySet<string>): string {
  const stem = idStem(base);
  for (let n = 1; ; n++) {
    const id = `${stem}-${n}`;
    if (!taken.has(id)) return id;
  }
}

function randomHex(len: number, rand: () => number): string {
  let s = "";
  for (let i = 0; i < len; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

/** `e-3f9a`-style edge id, unique among `taken`. */
export function newEdgeId(taken: ReadonlySet<string>, rand: () => number = Math.random): string {
  for (let len = 4; ; len++) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const id = `e-${randomHex(len, rand)}`;
      if (!taken.has(id)) return id;
    }
  }
}

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}
