/** Keyboard shortcuts and canvas gestures (`?`). */

import { Modal } from "../components/Modal";

const SHORTCUTS: [string, string][] = [
  ["Ctrl+S", "Save the flow"],
  ["Ctrl+Z", "Undo"],
  ["Ctrl+Shift+Z / Ctrl+Y", "Redo"],
  ["Ctrl+C / Ctrl+V", "Copy / paste the selected nodes (with their connections, new ids)"],
  ["Ctrl+X", "Cut the selection"],
  ["Ctrl+A", "Select every node"],
  ["Delete / Backspace", "Delete the selection"],
  ["Shift+click", "Add a node to the selection"],
  ["Shift+drag", "Box-select"],
  ["Escape", "Clear the selection / close a dialog"],
  ["?", "This help"],
];

const GESTURES: [string, string][] = [
  ["Drag from the palette", "Add a processor where you drop it (or double-click / Enter on it)"],
  ["Drag from an output port (right) to an input port (left)", "Connect; dropping on a node body connects to its only input"],
  ["Drag on the canvas / scroll", "Pan / zoom"],
  ["Click a connection", "Queue thresholds and, while running, sample records"],
];

export function HelpDialog({ onClose }: { onClose: () => void }) {
  return (
    <Modal title="Keyboard shortcuts" onClose={onClose} testId="help-dialog" width={560}>
      <table className="table compact shortcuts">
        <tbody>
          {SHORTCUTS.map(([k, d]) => (
            <tr key={k}>
              <td className="nowrap">
                {k.split(" / ").map((part, i) => (
                  <span key={part}>
                    {i > 0 ? " / " : null}
                    {part.split("+").map((key, j) => (
                      <span key={j}>
                        {j > 0 ? "+" : null}
                        <kbd>{key}</kbd>
                      </span>
                    ))}
                  </span>
                ))}
              </td>
              <td>{d}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="section-title">Canvas</div>
      <table className="table compact">
        <tbody>
          {GESTURES.map(([g, d]) => (
            <tr key={g}>
              <td>{g}</td>
              <td>{d}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted small">On macOS, Cmd works wherever Ctrl is listed.</p>
    </Modal>
  );
}
