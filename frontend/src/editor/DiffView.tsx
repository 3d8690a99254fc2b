/** The differences between two versions: nodes/connections added, removed, changed, config old -> new. */

import type { DiffModel } from "../model/diffModel";

const MARK = { added: "+", removed: "−", changed: "~" } as const;

export function DiffView({ model, from, to }: { model: DiffModel; from: number; to: number }) {
  return (
    <div className="diff-view" data-testid="diff-view" data-from={from} data-to={to}>
      <div className="diff-head">
        <strong>
          v{from} → v{to}
        </strong>{" "}
        <span className="muted">{model.summary}</span>
      </div>
      {model.sections.map((s) => (
        <section key={s.title} className="diff-section">
          <div className="section-title">{s.title}</div>
          <ul>
            {s.items.map((item) => (
              <li key={`${item.kind}-${item.id}`} className={`diff-item diff-${item.kind}`} data-testid={`diff-${item.kind}-${item.id}`}>
                <span className="diff-mark" aria-label={item.kind}>
                  {MARK[item.kind]}
                </span>
                <span className="diff-label">{item.label}</span>
                {item.details.length > 0 ? (
                  <ul className="diff-details">
                    {item.details.map((d, i) => (
                      <li key={i}>
                        <code>{d.label}</code>
                        {d.old !== undefined || d.new !== undefined ? (
                          <>
                            {": "}
                            <span className="diff-old">{d.old}</span> → <span className="diff-new">{d.new}</span>
                          </>
                        ) : null}
                      </li>
                    ))}
                  </ul>
                ) : null}
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}
