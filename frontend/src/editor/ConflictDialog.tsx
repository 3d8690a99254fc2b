/** A stale save (409): what conflicts, and the three ways out. */

import type { ConflictBody, JsonValue } from "../api/types";
import { Modal } from "../components/Modal";
import { formatValue } from "../model/diffModel";

export interface ConflictDialogProps {
  conflict: ConflictBody;
  expectedVersion: number;
  onReload: () => void;
  onOverwrite: () => void;
  onKeep: () => void;
}

const show = (v: JsonValue | undefined) => formatValue(v, 80);

export function ConflictDialog({ conflict, expectedVersion, onReload, onOverwrite, onKeep }: ConflictDialogProps) {
  return (
    <Modal
      title="Someone else saved this flow"
      onClose={onKeep}
      testId="conflict-dialog"
      width={760}
      footer={
        <>
          <button type="button" className="btn" data-testid="conflict-keep" onClick={onKeep}>
            Keep editing
          </button>
          <button type="button" className="btn" data-testid="conflict-reload" onClick={onReload}>
            Reload theirs
          </button>
          <button type="button" className="btn btn-danger" data-testid="conflict-overwrite" onClick={onOverwrite}>
            Overwrite with mine
          </button>
        </>
      }
    >
      <p>
        You edited version <b>v{expectedVersion}</b>; the server is now at <b>v{conflict.current_version}</b>.
        {conflict.detail ? ` ${conflict.detail}` : ""}
      </p>
      {conflict.conflicts?.length ? (
        <div className="table-wrap conflict-table">
          <table className="table compact">
            <thead>
              <tr>
                <th>Path</th>
                <th>Base (v{expectedVersion})</th>
                <th>Theirs (v{conflict.current_version})</th>
                <th>Yours</th>
              </tr>
            </thead>
            <tbody>
              {conflict.conflicts.map((c, i) => (
                <tr key={i} data-testid={`conflict-row-${i}`}>
                  <td>
                    <code>{c.path}</code>
                    {c.kind ? <div className="muted small">{c.kind}</div> : null}
                  </td>
                  <td className="mono">{show(c.base)}</td>
                  <td className="mono">{show(c.current)}</td>
                  <td className="mono">{show(c.saved)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p className="muted">The server did not list individual conflicts.</p>
      )}
      <ul className="muted small conflict-help">
        <li>
          <b>Reload theirs</b>: load v{conflict.current_version}; your edits are dropped (Ctrl+Z brings them back).
        </li>
        <li>
          <b>Overwrite</b>: save your document over v{conflict.current_version}.
        </li>
        <li>
          <b>Keep editing</b>: close this and decide later.
        </li>
      </ul>
    </Modal>
  );
}
