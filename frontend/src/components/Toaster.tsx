/** Renders notifications: each error shows its title, detail and every errors[] entry with its path. */

import { dismissToast, useToasts } from "../state/toasts";
import { Icon } from "./Icon";

const ICONS = { error: "alert", warning: "alert", info: "info", success: "check" } as const;

export function Toaster() {
  const toasts = useToasts();
  return (
    <div className="toaster" aria-live="polite" aria-relevant="additions">
      {toasts.map((t) => (
        <div key={t.id} className={`toast toast-${t.kind}`} data-testid="toast" data-kind={t.kind} role={t.kind === "error" ? "alert" : "status"}>
          <Icon name={ICONS[t.kind]} className="toast-icon" />
          <div className="toast-content">
            <div className="toast-title" data-testid="toast-title">
              {t.title}
              {t.count > 1 ? <span className="toast-count"> ×{t.count}</span> : null}
            </div>
            {t.detail ? (
              <div className="toast-detail" data-testid="toast-detail">
                {t.detail}
              </div>
            ) : null}
            {t.errors.length > 0 ? (
              <ul className="toast-errors" data-testid="toast-errors">
                {t.errors.slice(0, 20).map((e, i) => (
                  <li key={i}>
                    {e.path ? <code>{e.path}</code> : null} {e.message}
                  </li>
                ))}
                {t.errors.length > 20 ? <li>… and {t.errors.length - 20} more</li> : null}
              </ul>
            ) : null}
          </div>
          <button type="button" className="icon-btn toast-close" aria-label="Dismiss notification" data-testid="toast-close" onClick={() => dismissToast(t.id)}>
            <Icon name="x" size={14} />
          </button>
        </div>
      ))}
    </div>
  );
}
