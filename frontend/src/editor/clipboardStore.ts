/** The canvas clipboard; module-level so a copy can be pasted into another flow of the same tab. */

import type { ClipboardContent } from "../model/clipboard";

let content: ClipboardContent | null = null;
let pastes = 0;

export function setClipboard(c: ClipboardContent): void {
  content = c;
  pastes = 0;
}

export function getClipboard(): ClipboardContent | null {
  return content;
}

/** Each paste of the same copy lands a bit further, so copies do not stack exactly. */
export function nextPasteOffset(): { x: number; y: number } {
  pastes++;
  return { x: 40 * pastes, y: 40 * pastes };
}
