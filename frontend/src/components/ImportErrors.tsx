/** Why an import was refused: every error with its JSON path. Nothing was created. */

import type { ApiError } from "../api/client";
import { Icon } from "./Icon";

export function ImportErrors({ file, error, onDismiss }: { file: string; error: ApiError; onDismiss: () => void }) {
  return (
    <div className="banner banner-error import-errors" role="alert" data-testid="import-errors">
      <div className="banner-head">
        <Icon name="alert" />
        <div>
          <strong>
            Import of {file} failed: {error.title}
          </strong>
          {error.detail ? <div>{error.detail}</div> : null}
          <div className="muted small">Nothing was created.</div>
        </div>
        <div className="spacer" />
        <button type="button" className="icon-btn" aria-label="Dismiss import errors" data-testid="import-errors-dismiss" onClick={onDismiss}>
          <Icon name="x" />
        </button>
      </div>
      {error.errors.length > 0 ? (
        <table className="table compact">
          <thead>
            <tr>
              <th>Path</th>
              <th>Problem</th>
            </tr>
          </thead>
          <tbody>
            {error.errors.map((e, i) => (
              <tr key={i} data-testid="import-error">
                <td>
                  <code>{e.path || "$"}</code>
                </td>
                <td>
                  {e.message}
                  {e.code ? <span className="muted small"> ({e.code})</span> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
