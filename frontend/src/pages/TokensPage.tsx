/** Route `/tokens`: the signed-in user's own API tokens (admins manage everyone's on /admin). */

import { useEffect } from "react";
import { TokensPanel } from "../admin/TokensPanel";
import { AppHeader } from "../components/AppHeader";

export function TokensPage() {
  useEffect(() => {
    document.title = "API tokens · DataFlow";
  }, []);
  return (
    <div className="page" data-testid="tokens-page">
      <AppHeader>
        <span className="header-title">API tokens</span>
      </AppHeader>
      <main className="page-body admin-page">
        <TokensPanel users={null} refreshKey={0} />
      </main>
    </div>
  );
}
