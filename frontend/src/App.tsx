/** The application shell: catalog, dialogs, notifications and the two routes. */

import { CatalogProvider } from "./components/CatalogProvider";
import { DialogsProvider } from "./components/Dialogs";
import { Toaster } from "./components/Toaster";
import { EditorPage } from "./pages/EditorPage";
import { FlowListPage } from "./pages/FlowListPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { matchRoute, usePath } from "./router";

export function App() {
  const route = matchRoute(usePath());
  return (
    <CatalogProvider>
      <DialogsProvider>
        {route.name === "list" ? <FlowListPage /> : null}
        {route.name === "editor" ? <EditorPage key={route.flowId} flowId={route.flowId} /> : null}
        {route.name === "not-found" ? <NotFoundPage path={route.path} /> : null}
        <Toaster />
      </DialogsProvider>
    </CatalogProvider>
  );
}
