/** Protect unsaved changes: the browser's beforeunload prompt, and a confirm on in-app navigation. */

import { useEffect, useRef } from "react";
import { useDialogs } from "../components/Dialogs";
import { setNavigationGuard } from "../router";

export function useUnsavedGuard(dirty: boolean): void {
  const { confirm } = useDialogs();
  const dirtyRef = useRef(dirty);
  dirtyRef.current = dirty;

  useEffect(() => {
    if (!dirty) return;
    const onBeforeUnload = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = "";
    };
    window.addEventListener("beforeunload", onBeforeUnload);
    return () => window.removeEventListener("beforeunload", onBeforeUnload);
  }, [dirty]);

  useEffect(
    () =>
      setNavigationGuard(async () =>
        dirtyRef.current
          ? confirm({
              title: "Leave without saving?",
              message: "This flow has unsaved changes. They will be lost if you leave.",
              okLabel: "Leave",
              cancelLabel: "Stay",
              danger: true,
            })
          : true,
      ),
    [confirm],
  );
}
