/** Processors from the catalog, grouped by category, searchable, dragged onto the canvas (by editors). */

import { memo, useMemo, useState } from "react";
import type { Category, ProcessorInfo } from "../api/types";
import { Icon, processorIconName } from "../components/Icon";
import { useCatalog } from "../state/catalog";
import { PALETTE_MIME } from "./Canvas";

const GROUPS: { category: Category; title: string }[] = [
  { category: "source", title: "Sources" },
  { category: "transform", title: "Transforms" },
  { category: "sink", title: "Sinks" },
];

function matches(p: ProcessorInfo, q: string): boolean {
  return `${p.type} ${p.title} ${p.summary} ${p.description} ${p.category}`.toLowerCase().includes(q);
}

/** `readOnly`: why this user may not add processors (they can still browse the catalog). */
function PaletteImpl({ onAdd, readOnly }: { onAdd: (info: ProcessorInfo) => void; readOnly?: string | undefined }) {
  const add = readOnly ? () => undefined : onAdd;
  const { list, loading, error, reload } = useCatalog();
  const [query, setQuery] = useState("");
  const groups = useMemo(() => {
    const q = query.trim().toLowerCase();
    const filtered = q ? list.filter((p) => matches(p, q)) : list;
    return GROUPS.map((g) => ({ ...g, items: filtered.filter((p) => p.category === g.category).sort((a, b) => a.title.localeCompare(b.title)) }));
  }, [list, query]);
  const total = groups.reduce((n, g) => n + g.items.length, 0);

  return (
    <aside className="palette" data-testid="palette" aria-label="Processor palette">
      <div className="panel-title">Processors</div>
      <div className="search-box palette-search">
        <Icon name="search" size={14} />
        <input
          className="input"
          type="search"
          placeholder="Search processors"
          aria-label="Search processors"
          data-testid="palette-search"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
      </div>
      {readOnly ? (
        <div className="muted small pad palette-readonly" data-testid="palette-read-only">
          <Icon name="lock" size={12} /> Adding processors {readOnly}.
        </div>
      ) : null}
      <div className="palette-groups">
        {loading && list.length === 0 ? <div className="muted small pad">Loading catalog…</div> : null}
        {error ? (
          <div className="banner banner-error small" role="alert">
            Catalog unavailable: {error}
            <button type="button" className="btn btn-small" onClick={reload}>
              Retry
            </button>
          </div>
        ) : null}
        {groups.map((g) =>
          g.items.length === 0 ? null : (
            <section key={g.category} className="palette-group" data-testid={`palette-group-${g.category}`}>
              <h3 className={`palette-group-title cat-${g.category}`}>
                {g.title} <span className="muted">{g.items.length}</span>
              </h3>
              {g.items.map((p) => (
                <div
                  key={p.type}
                  className={`palette-item cat-${p.category}${readOnly ? " read-only" : ""}`}
                  data-testid={`palette-item-${p.type}`}
                  draggable={!readOnly}
                  role="button"
                  tabIndex={0}
                  aria-disabled={readOnly ? true : undefined}
                  aria-label={readOnly ? `${p.title}: ${p.summary}.` : `${p.title}: ${p.summary}. Drag onto the canvas, or press Enter to add.`}
                  aria-description={readOnly}
                  title={`${p.description || p.summary}\n\n${readOnly ? `Adding processors ${readOnly}.` : "Drag onto the canvas (or double-click / Enter to add)."}`}
                  onDragStart={(e) => {
                    if (readOnly) {
                      e.preventDefault();
                      return;
                    }
                    e.dataTransfer.setData(PALETTE_MIME, p.type);
                    e.dataTransfer.setData("text/plain", p.type);
                    e.dataTransfer.effectAllowed = "copy";
                  }}
                  onDoubleClick={() => add(p)}
                  onKeyDown={(e) => {
                    if (e.key === "Enter" || e.key === " ") {
                      e.preventDefault();
                      add(p);
                    }
                  }}
                >
                  <span className="palette-icon" aria-hidden>
                    <Icon name={processorIconName(p.icon, p.type, p.category)} size={15} />
                  </span>
                  <span className="palette-text">
                    <span className="palette-name">
                      {p.title}
                      {p.status && p.status !== "stable" ? <span className={`status-tag status-${p.status}`}>{p.status}</span> : null}
                    </span>
                    <span className="palette-summary">{p.summary}</span>
                  </span>
                </div>
              ))}
            </section>
          ),
        )}
        {!loading && total === 0 && list.length > 0 ? <div className="muted small pad">No processor matches “{query}”.</div> : null}
      </div>
    </aside>
  );
}

export const Palette = memo(PaletteImpl);
