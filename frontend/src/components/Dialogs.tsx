/** Promise-based confirm and prompt dialogs (`confirm-ok` / `confirm-cancel`), one at a time. */

import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from "react";
import { Modal } from "./Modal";

export interface ConfirmOptions {
  title: string;
  message: ReactNode;
  okLabel?: string;
  cancelLabel?: string;
  danger?: boolean;
}

export interface PromptOptions {
  title: string;
  label: string;
  initial?: string;
  okLabel?: string;
  placeholder?: string;
  validate?: (value: string) => string | null;
  /** "password" for a new password (not shown as typed). */
  inputType?: "text" | "password";
}

interface Dialogs {
  confirm: (o: ConfirmOptions) => Promise<boolean>;
  prompt: (o: PromptOptions) => Promise<string | null>;
}

const DialogsContext = createContext<Dialogs | null>(null);

export function useDialogs(): Dialogs {
  const d = useContext(DialogsContext);
  if (!d) throw new Error("DialogsProvider missing");
  return d;
}

type Pending =
  | { kind: "confirm"; options: ConfirmOptions; resolve: (v: boolean) => void }
  | { kind: "prompt"; options: PromptOptions; resolve: (v: string | null) => void };

export function DialogsProvider({ children }: { children: ReactNode }) {
  const [pending, setPending] = useState<Pending | null>(null);
  const queue = useRef<Pending[]>([]);

  const open = useCallback((p: Pending) => {
    setPending((cur) => {
      if (cur) {
        queue.current.push(p);
        return cur;
      }
      return p;
    });
  }, []);

  const close = useCallback(() => setPending(queue.current.shift() ?? null), []);

  const value = useMemo<Dialogs>(
    () => ({
      confirm: (options) => new Promise<boolean>((resolve) => open({ kind: "confirm", options, resolve })),
      prompt: (options) => new Promise<string | null>((resolve) => open({ kind: "prompt", options, resolve })),
    }),
    [open],
  );

  return (
    <DialogsContext.Provider value={value}>
      {children}
      {pending?.kind === "confirm" ? (
        <ConfirmDialog
          options={pending.options}
          onDone={(ok) => {
            pending.resolve(ok);
            close();
          }}
        />
      ) : null}
      {pending?.kind === "prompt" ? (
        <PromptDialog
          options={pending.options}
          onDone={(v) => {
            pending.resolve(v);
            close();
          }}
        />
      ) : null}
    </DialogsContext.Provider>
  );
}

function ConfirmDialog({ options, onDone }: { options: ConfirmOptions; onDone: (ok: boolean) => void }) {
  return (
    <Modal
      title={options.title}
      onClose={() => onDone(false)}
      testId="confirm-dialog"
      alert
      footer={
        <>
          <button type="button" className="btn" data-testid="confirm-cancel" onClick={() => onDone(false)}>
            {options.cancelLabel ?? "Cancel"}
          </button>
          <button type="button" className={options.danger ? "btn btn-danger" : "btn btn-primary"} data-testid="confirm-ok" data-autofocus onClick={() => onDone(true)}>
            {options.okLabel ?? "OK"}
          </button>
        </>
      }
    >
      <div className="confirm-message">{options.message}</div>
    </Modal>
  );
}

function PromptDialog({ options, onDone }: { options: PromptOptions; onDone: (v: string | null) => void }) {
  const [value, setValue] = useState(options.initial ?? "");
  const [touched, setTouched] = useState(false);
  const error = options.validate?.(value) ?? null;
  const submit = () => {
    setTouched(true);
    if (!error) onDone(value);
  };
  return (
    <Modal
      title={options.title}
      onClose={() => onDone(null)}
      testId="prompt-dialog"
      footer={
        <>
          <button type="button" className="btn" data-testid="confirm-cancel" onClick={() => onDone(null)}>
            Cancel
          </button>
          <button type="button" className="btn btn-primary" data-testid="confirm-ok" disabled={touched && !!error} onClick={submit}>
            {options.okLabel ?? "OK"}
          </button>
        </>
      }
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <label className="field-label" htmlFor="prompt-input">
          {options.label}
        </label>
        <input
          id="prompt-input"
          className="input"
          data-testid="prompt-input"
          data-autofocus
          type={options.inputType ?? "text"}
          autoComplete={options.inputType === "password" ? "new-password" : undefined}
          value={value}
          placeholder={options.placeholder}
          onChange={(e) => setValue(e.target.value)}
          onBlur={() => setTouched(true)}
          aria-invalid={touched && !!error}
        />
        {touched && error ? (
          <div className="field-error" role="alert">
            {error}
          </div>
        ) : null}
      </form>
    </Modal>
  );
}
