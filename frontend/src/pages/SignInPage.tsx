/**
 * The sign-in form, shown whenever nobody is signed in: in place of the app (page load, sign-out),
 * or over it when the session ended in use (`overlay`), so the page underneath keeps its state
 * and carries on where it was once the user is back.
 */

import { useEffect, useId, useRef, useState } from "react";
import { api, toApiError } from "../api/client";
import { signedIn } from "../api/session";
import { Icon } from "../components/Icon";

export function SignInPage({ notice, overlay = false, lastUser }: { notice: string | null; overlay?: boolean; lastUser?: string | undefined }) {
  const [name, setName] = useState(lastUser ?? "");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // After a 429: seconds left before the server takes another attempt (the button counts down).
  const [wait, setWait] = useState(0);
  const nameRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  const titleId = useId();

  useEffect(() => {
    (lastUser ? passwordRef : nameRef).current?.focus();
    if (!overlay) document.title = "Sign in · DataFlow";
  }, [lastUser, overlay]);

  // A single sign-on button when the server has an identity provider.
  const [sso, setSso] = useState<string | null>(null);
  useEffect(() => {
    const ac = new AbortController();
    api
      .signInOptions(ac.signal)
      .then((o) => setSso(o.oidc ? (o.oidc_name ?? "single sign-on") : null))
      .catch(() => setSso(null)); // an older server, or none answering: passwords only
    return () => ac.abort();
  }, []);

  useEffect(() => {
    if (wait <= 0) return;
    const t = setTimeout(() => setWait((w) => w - 1), 1000);
    return () => clearTimeout(t);
  }, [wait]);

  const submit = async () => {
    if (busy || wait > 0) return;
    if (!name.trim() || !password) {
      setError("Enter your user name and password.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const me = await api.login(name.trim(), password);
      setPassword("");
      signedIn(me);
    } catch (e) {
      const err = toApiError(e);
      // The server's detail says what went wrong: a wrong password, or how long to wait (429).
      setError(err.detail || err.title);
      if (err.status === 429) setWait(Math.ceil(err.retryAfter ?? 60));
      setPassword("");
      passwordRef.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  const card = (
    <form
      className="sign-in-card"
      data-testid="sign-in-form"
      aria-labelledby={titleId}
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <div className="sign-in-brand">
        <span className="brand-mark">
          <Icon name="flow" size={16} />
        </span>
        DataFlow
      </div>
      <h1 id={titleId}>{overlay ? "Sign in again" : "Sign in"}</h1>
      {notice ? (
        <p className="muted small" data-testid="sign-in-notice">
          {notice}
        </p>
      ) : null}
      <label className="field-label" htmlFor="sign-in-name">
        User name
      </label>
      <input
        id="sign-in-name"
        ref={nameRef}
        className="input"
        data-testid="sign-in-name"
        autoComplete="username"
        spellCheck={false}
        value={name}
        onChange={(e) => setName(e.target.value)}
      />
      <label className="field-label" htmlFor="sign-in-password">
        Password
      </label>
      <input
        id="sign-in-password"
        ref={passwordRef}
        className="input"
        type="password"
        data-testid="sign-in-password"
        autoComplete="current-password"
        value={password}
        aria-invalid={error ? true : undefined}
        onChange={(e) => setPassword(e.target.value)}
      />
      {error ? (
        <div className="field-error" role="alert" data-testid="sign-in-error">
          {error}
        </div>
      ) : null}
      <button type="submit" className="btn btn-primary sign-in-submit" data-testid="sign-in-submit" disabled={busy || wait > 0}>
        {busy ? "Signing in…" : wait > 0 ? `Try again in ${wait} s` : "Sign in"}
      </button>
      {sso ? (
        <a
          className="btn sign-in-sso"
          data-testid="sign-in-sso"
          href={`/api/v1/auth/oidc/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`}
        >
          Sign in with {sso}
        </a>
      ) : null}
    </form>
  );

  if (overlay) {
    return (
      <div className="sign-in-overlay" role="dialog" aria-modal="true" aria-labelledby={titleId} data-testid="sign-in-page">
        {card}
      </div>
    );
  }
  return (
    <main className="sign-in-page" data-testid="sign-in-page">
      {card}
    </main>
  );
}
