/** The bottom panel: Problems, Events and Versions tabs; collapsible. */

import type { ReactNode } from "react";
import { Icon } from "../components/Icon";

export type DockTab = "problems" | "events" | "versions";

interface Props {
  tab: DockTab;
  open: boolean;
  errorCount: number;
  warningCount: number;
  onTab: (t: DockTab) => void;
  onToggle: () => void;
  children: ReactNode;
}

export function BottomDock({ tab, open, errorCount, warningCount, onTab, onToggle, children }: Props) {
  const tabs: { id: DockTab; label: ReactNode }[] = [
    {
      id: "problems",
      label: (
        <>
          Problems
          {errorCount > 0 ? <span className="count count-error">{errorCount}</span> : null}
          {warningCount > 0 ? <span className="count count-warning">{warningCount}</span> : null}
        </>
      ),
    },
    { id: "events", label: "Events" },
    { id: "versions", label: "Versions" },
  ];
  return (
    <section className={`dock${open ? " open" : ""}`} aria-label="Bottom panel">
      <div className="dock-tabs" role="tablist">
        {tabs.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            aria-selected={open && tab === t.id}
            className={`dock-tab${open && tab === t.id ? " active" : ""}`}
            data-testid={`tab-${t.id}`}
            onClick={() => (open && tab === t.id ? onToggle() : onTab(t.id))}
          >
            {t.label}
          </button>
        ))}
        <span className="spacer" />
        <button type="button" className="icon-btn" data-testid="dock-toggle" aria-label={open ? "Collapse the bottom panel" : "Expand the bottom panel"} aria-expanded={open} onClick={onToggle}>
          <Icon name={open ? "chevronDown" : "chevronRight"} />
        </button>
      </div>
      {open ? (
        <div className="dock-body" role="tabpanel">
          {children}
        </div>
      ) : null}
    </section>
  );
}
