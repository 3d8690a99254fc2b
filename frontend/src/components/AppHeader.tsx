/** Top bar: product name (home link), page-specific content, and who is signed in. */

import type { ReactNode } from "react";
import { navigate } from "../router";
import { Icon } from "./Icon";
import { UserMenu } from "./UserMenu";

export function AppHeader({ children }: { children?: ReactNode }) {
  return (
    <header className="app-header">
      <a
        href="/"
        className="brand"
        data-testid="home-link"
        aria-label="DataFlow: all flows"
        onClick={(e) => {
          e.preventDefault();
          void navigate("/");
        }}
      >
        <span className="brand-mark">
          <Icon name="flow" size={16} />
        </span>
        DataFlow
      </a>
      {children}
      <span className="spacer" />
      <UserMenu />
    </header>
  );
}
