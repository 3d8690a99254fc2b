/**
 * API tokens: the list (never their values), revoke, and a form whose answer shows the new
 * value once. An admin sees and makes everyone's; any other user their own (`users` null).
 */

import { useCallback, useEffect, useState } from "react";
import { api, isAbort, toApiError } from "../api/client";
import type { IssuedToken, NewToken, Role, TokenInfo, UserInfo } from "../api/types";
import { useDialogs } from "../components/Dialogs";
import { Icon } from "../components/Icon";
import { nameProblem, parseDays } from "../model/accounts";
import { formatRelative, formatTime } from "../model/format";
import { allows, ROLES } from "../model/permissions";
import { useSession } from "../state/session";
import { showError, showSuccess } from "../state/toasts";

interface Props {
  /** Everyone, for an admin (tokens for any of them); null: the user's own tokens only. */
  users: UserInfo[] | null;
  /** Changes when users change (a deleted user's tokens are gone). */
  refreshKey: number;
}

export function TokensPanel({ users, refreshKey }: Props) {
  const [tokens, setTokens] = useState<TokenInfo[] | null>(null);
  const [issued, setIssued] = useState<IssuedToken | null>(null);
  const { confirm } = useDialogs();

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      setTokens(await api.listTokens(signal));
    } catch (e) {
      if (!isAbort(e)) showError(e, "Loading API tokens");
    }
  }, []);

  useEffect(() => {
    const ac = new AbortController();
    void load(ac.signal);
    return () => ac.abort();
  }, [load, refreshKey]);

  const revoke = async (t: TokenInfo) => {
    const ok = await confirm({
      title: "Revoke token?",
      message: (
        <>
          Revoke <strong>{t.name}</strong> of {t.owner}? Scripts using it get 401 from now on.
        </>
      ),
      okLabel: "Revoke",
      danger: true,
    });
    if (!ok) return;
    try {
      await api.revokeToken(t.id);
      showSuccess(`Revoked ${t.name}`);
      if (issued?.id === t.id) setIssued(null);
    } catch (e) {
      showError(e, `Revoking ${t.name}`);
    }
    await load();
  };

  return (
    <section className="admin-section" data-testid="tokens-panel" aria-labelledby="tokens-title">
      <h2 id="tokens-title">API tokens</h2>
      <p className="muted small">
        For scripts and CI: send <code>Authorization: Bearer &lt;token&gt;</code>. A token has at most its owner&apos;s role.
      </p>
      {issued ? <IssuedTokenBanner token={issued} onDismiss={() => setIssued(null)} /> : null}
      <div className="table-wrap">
        <table className="table" data-testid="tokens-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Owner</th>
              <th>Role</th>
              <th>Created</th>
              <th>Expires</th>
              <th className="actions-col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(tokens ?? []).map((t) => (
              <tr key={t.id} data-testid={`token-row-${t.id}`} data-token-name={t.name}>
                <td>
                  {t.name} <code className="muted small">{t.id}</code>
                </td>
                <td>{t.owner}</td>
                <td>{t.role}</td>
                <td title={formatTime(t.created_at)}>{formatRelative(t.created_at)}</td>
                <td>{formatTime(t.expires_at)}</td>
                <td className="row-actions">
                  <button type="button" className="btn btn-small btn-danger-outline" data-testid={`token-revoke-${t.id}`} aria-label={`Revoke ${t.name} of ${t.owner}`} onClick={() => void revoke(t)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {tokens === null ? <div className="empty-state small">Loading…</div> : null}
        {tokens !== null && tokens.length === 0 ? <div className="empty-state small">No API tokens.</div> : null}
      </div>
      <NewTokenForm
        users={users}
        onIssued={async (t) => {
          setIssued(t);
          await load();
        }}
      />
    </section>
  );
}

function IssuedTokenBanner({ token, onDismiss }: { token: IssuedToken; onDismiss: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(token.token);
      setCopied(true);
    } catch (e) {
      showError(toApiError(e, "Copy failed"), "Select the value and copy it by hand");
    }
  };
  return (
    <div className="banner banner-success" role="status" data-testid="token-issued">
      <div className="banner-head">
        <Icon name="check" size={14} />
        <div className="spacer">
          Token <strong>{token.name}</strong> for {token.owner} ({token.role}). Copy it now: it is not shown again.
        </div>
        <button type="button" className="icon-btn small" aria-label="Hide the token" data-testid="token-issued-close" onClick={onDismiss}>
          <Icon name="x" size={14} />
        </button>
      </div>
      <div className="token-value-row">
        <code className="token-value" data-testid="token-value">
          {token.token}
        </code>
        <button type="button" className="btn btn-small" data-testid="token-copy" onClick={() => void copy()}>
          <Icon name="copy" size={12} /> {copied ? "Copied" : "Copy"}
        </button>
      </div>
    </div>
  );
}

function NewTokenForm({ users, onIssued }: { users: UserInfo[] | null; onIssued: (t: IssuedToken) => Promise<void> }) {
  const { me } = useSession();
  const [name, setName] = useState("");
  const [owner, setOwner] = useState(me?.user ?? "");
  const [role, setRole] = useState<Role | "">("");
  const [days, setDays] = useState("90");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const owners = users?.map((u) => u.name) ?? null;
  // A token is never stronger than the credential that makes it.
  const roles = ROLES.filter((r) => me && allows(me.role, r));

  const submit = async () => {
    const expires = parseDays(days);
    const problem = nameProblem(name.trim(), "A token name") ?? (typeof expires === "string" ? expires : null);
    if (problem || typeof expires === "string") {
      setError(problem);
      return;
    }
    setBusy(true);
    setError(null);
    const body: NewToken = { name: name.trim(), expires_in_days: expires, ...(owner && owner !== me?.user ? { owner } : {}), ...(role ? { role } : {}) };
    try {
      const issued = await api.createToken(body);
      setName("");
      await onIssued(issued);
    } catch (e) {
      const err = toApiError(e);
      setError([err.detail || err.title, ...err.errors.map((x) => x.message)].join(" "));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="admin-form"
      data-testid="new-token-form"
      aria-label="New API token"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <label>
        <span className="field-label">Token name</span>
        <input className="input" data-testid="new-token-name" autoComplete="off" spellCheck={false} placeholder="e.g. ci-deploy" value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      {owners ? (
        <label>
          <span className="field-label">Owner</span>
          <select className="input select" data-testid="new-token-owner" value={owner} onChange={(e) => setOwner(e.target.value)}>
            {owners.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <label>
        <span className="field-label">Role</span>
        <select className="input select" data-testid="new-token-role" value={role} onChange={(e) => setRole(e.target.value as Role | "")}>
          <option value="">the owner&apos;s</option>
          {roles.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span className="field-label">Expires in (days)</span>
        <input className="input" inputMode="decimal" data-testid="new-token-days" value={days} onChange={(e) => setDays(e.target.value)} />
      </label>
      <button type="submit" className="btn btn-primary" data-testid="new-token-submit" disabled={busy}>
        <Icon name="plus" size={14} /> Create token
      </button>
      {error ? (
        <div className="field-error admin-form-error" role="alert" data-testid="new-token-error">
          {error}
        </div>
      ) : null}
    </form>
  );
}
