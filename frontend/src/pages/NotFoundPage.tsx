/** Unknown client-side route. */

import { AppHeader } from "../components/AppHeader";
import { navigate } from "../router";

export function NotFoundPage({ path }: { path: string }) {
  return (
    <div className="page">
      <AppHeader />
      <main className="page-body empty-state">
        <h1>Page not found</h1>
        <p>
          Nothing lives at <code>{path}</code>.
        </p>
        <button type="button" className="btn btn-primary" onClick={() => void navigate("/")}>
          Go to the flow list
        </button>
      </main>
    </div>
  );
}
