/** The application shell: the sign-in gate, then catalog, dialogs, notifications and the routes. */

import { useEffect } from "react";
import { CatalogProvider } from "./components/CatalogProvider";
import { DialogsProvider } from "./components/Dialogs";
import { Toaster } from "./components/Toaster";
import { AdminPage } from "./pages/AdminPage";
import { EditorPage } from "./pages/EditorPage";
import { FlowListPage } from "./pages/FlowListPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { SignInPage } from "./pages/SignInPage";
import { TokensPage } from "./pages/TokensPage";
import { matchRoute, usePath } from "./router";
import { checkSession, useSession } from "./state/session";

export function App() {
  const session = useSession();
  const route = matchRoute(usePath());
  useEffect(() => void checkSession(), []);

  if (session.status === "checking") return <div className="page app-loading" data-testid="app-loading" aria-busy="true" />;
  // Nobody signed in: the sign-in page at the same address, so signing in lands where the user was.
  if (session.status === "signed-out") {
    return (
      <>
        <SignInPage notice={session.notice} />
        <Toaster />
      </>
    );
  }
  return (
    <CatalogProvider>
      <DialogsProvider>
        {route.name === "list" ? <FlowListPage /> : null}
        {route.name === "editor" ? <EditorPage key={route.flowId} flowId={route.flowId} /> : null}
        {route.name === "admin" ? <AdminPage /> : null}
        {route.name === "tokens" ? <TokensPage /> : null}
        {route.name === "not-found" ? <NotFoundPage path={route.path} /> : null}
        {session.status === "expired" ? <SignInPage overlay notice={session.notice} lastUser={session.me?.user} /> : null}
        <Toaster />
      </DialogsProvider>
    </CatalogProvider>
  );
}
