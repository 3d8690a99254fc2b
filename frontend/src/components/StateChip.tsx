/** A run state as a coloured chip (running, paused, failed...). */

import type { RunState } from "../api/types";

export function StateChip({ state, testId }: { state: RunState | string; testId?: string }) {
  return (
    <span className={`chip chip-${state}`} data-testid={testId} data-state={state}>
      <span className="chip-dot" aria-hidden />
      {state}
    </span>
  );
}
