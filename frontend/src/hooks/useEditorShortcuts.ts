/** Editor keyboard shortcuts (the help dialog lists them). React Flow handles Delete/Backspace itself. */

import { useEffect, useRef } from "react";

export interface ShortcutHandlers {
  save: () => void;
  undo: () => void;
  redo: () => void;
  copy: () => void;
  paste: () => void;
  cut: () => void;
  selectAll: () => void;
  clearSelection: () => void;
  help: () => void;
}

export function isEditableTarget(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  if (t.isContentEditable) return true;
  if (t.tagName === "TEXTAREA" || t.tagName === "SELECT") return true;
  if (t.tagName === "INPUT") {
    const type = (t as HTMLInputElement).type;
    return !["checkbox", "radio", "button", "submit", "range", "color", "file"].includes(type);
  }
  return false;
}

export function useEditorShortcuts(handlers: ShortcutHandlers): void {
  const ref = useRef(handlers);
  ref.current = handlers;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const h = ref.current;
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && key === "s") {
        e.preventDefault();
        h.save();
        return;
      }
      if (document.querySelector("[aria-modal='true']")) return;
      if (isEditableTarget(e.target)) return;
      if (mod && key === "z") {
        e.preventDefault();
        if (e.shiftKey) h.redo();
        else h.undo();
      } else if (mod && key === "y") {
        e.preventDefault();
        h.redo();
      } else if (mod && key === "c") {
        if (window.getSelection()?.toString()) return; // copying page text
        h.copy();
      } else if (mod && key === "v") {
        e.preventDefault();
        h.paste();
      } else if (mod && key === "x") {
        h.cut();
      } else if (mod && key === "a") {
        e.preventDefault();
        h.selectAll();
      } else if (!mod && !e.altKey && e.key === "?") {
        e.preventDefault();
        h.help();
      } else if (e.key === "Escape") {
        h.clearSelection();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}
