/** Inline stroke icons (24x24 grid), for processors and toolbar actions. */

import { memo } from "react";

const PATHS: Record<string, string> = {
  // processor categories and types
  source: "M4 6c0-1.7 3.6-3 8-3s8 1.3 8 3-3.6 3-8 3-8-1.3-8-3zM4 6v6c0 1.7 3.6 3 8 3s8-1.3 8-3V6M4 12v6c0 1.7 3.6 3 8 3s8-1.3 8-3v-6",
  transform: "M4 7h11M4 7l3-3M4 7l3 3M20 17H9m11 0-3-3m3 3-3 3",
  sink: "M12 3v12m0 0-4-4m4 4 4-4M4 17v3h16v-3",
  filter: "M3 4h18l-7 8.5V19l-4 2v-8.5L3 4z",
  generate: "M12 3v3m0 12v3M3 12h3m12 0h3M5.6 5.6l2.1 2.1m8.6 8.6 2.1 2.1M5.6 18.4l2.1-2.1m8.6-8.6 2.1-2.1",
  file: "M14 3H6a1 1 0 0 0-1 1v16a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V8l-5-5zm0 0v5h5M8 13h8M8 17h5",
  read_file: "M14 3H6a1 1 0 0 0-1 1v16a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V8l-5-5zm0 0v5h5M12 11v7m0 0-3-3m3 3 3-3",
  write_file: "M14 3H6a1 1 0 0 0-1 1v16a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V8l-5-5zm0 0v5h5M12 18v-7m0 0-3 3m3-3 3 3",
  sql: "M4 6c0-1.7 3.6-3 8-3s8 1.3 8 3-3.6 3-8 3-8-1.3-8-3zM4 6v12c0 1.7 3.6 3 8 3s8-1.3 8-3V6M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3",
  database: "M4 6c0-1.7 3.6-3 8-3s8 1.3 8 3-3.6 3-8 3-8-1.3-8-3zM4 6v12c0 1.7 3.6 3 8 3s8-1.3 8-3V6M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3",
  select: "M4 4h4v16H4zM10 4h4v16h-4zM16 4h4v16h-4z",
  columns: "M4 4h4v16H4zM10 4h4v16h-4zM16 4h4v16h-4z",
  route: "M4 12h6l4-6h6M10 12l4 6h6M17 3l3 3-3 3M17 15l3 3-3 3",
  split: "M4 12h6l4-6h6M10 12l4 6h6M17 3l3 3-3 3M17 15l3 3-3 3",
  template: "M8 4c-2 0-2 1-2 3v2c0 1.5-1 3-2 3 1 0 2 1.5 2 3v2c0 2 0 3 2 3M16 4c2 0 2 1 2 3v2c0 1.5 1 3 2 3-1 0-2 1.5-2 3v2c0 2 0 3-2 3",
  braces: "M8 4c-2 0-2 1-2 3v2c0 1.5-1 3-2 3 1 0 2 1.5 2 3v2c0 2 0 3 2 3M16 4c2 0 2 1 2 3v2c0 1.5 1 3 2 3-1 0-2 1.5-2 3v2c0 2 0 3-2 3",
  python: "M9 8 5 12l4 4M15 8l4 4-4 4M13 5l-2 14",
  code: "M9 8 5 12l4 4M15 8l4 4-4 4M13 5l-2 14",
  console: "M4 5h16v14H4zM7 9l3 3-3 3M12 15h5",
  terminal: "M4 5h16v14H4zM7 9l3 3-3 3M12 15h5",
  kafka: "M12 4a2 2 0 1 0 0 .1M12 20a2 2 0 1 0 0 .1M19 8a2 2 0 1 0 0 .1M19 16a2 2 0 1 0 0 .1M12 6v12M12 10l5-2M12 14l5 2",
  http: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM3 12h18M12 3c2.5 2.5 3.5 5.5 3.5 9s-1 6.5-3.5 9c-2.5-2.5-3.5-5.5-3.5-9s1-6.5 3.5-9z",
  clock: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 7v5l3 2",
  merge: "M6 4v5c0 3 3 4 6 6s6 3 6 5M18 4v5c0 3-3 4-6 6M6 20v-2",
  // ui
  play: "M7 4v16l13-8L7 4z",
  pause: "M7 4h3v16H7zM14 4h3v16h-3z",
  stop: "M6 6h12v12H6z",
  save: "M5 3h11l3 3v13a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V3zm3 0v5h7V3M8 21v-7h8v7",
  undo: "M9 14 4 9l5-5M4 9h10a6 6 0 0 1 0 12h-3",
  redo: "M15 14l5-5-5-5M20 9H10a6 6 0 0 0 0 12h3",
  layout: "M3 4h6v6H3zM15 4h6v6h-6zM9 17h6v6H9zM6 10v3h12v-3M12 13v4",
  fit: "M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5",
  help: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM9.5 9a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6v.6M12 17h.01",
  trash: "M4 7h16M10 11v6M14 11v6M5 7l1 13h12l1-13M9 7V4h6v3",
  download: "M12 4v11m0 0-4-4m4 4 4-4M4 19h16",
  upload: "M12 16V5m0 0-4 4m4-4 4 4M4 19h16",
  plus: "M12 5v14M5 12h14",
  search: "M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14zM21 21l-5-5",
  x: "M6 6l12 12M18 6 6 18",
  history: "M3 12a9 9 0 1 0 3-6.7L3 8M3 3v5h5M12 7v5l3 2",
  list: "M8 6h13M8 12h13M8 18h13M3 6h.01M3 12h.01M3 18h.01",
  alert: "M12 3 2 20h20L12 3zM12 10v4M12 17h.01",
  info: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 11v6M12 7.5h.01",
  check: "M5 12l5 5 9-10",
  lock: "M6 11h12v10H6zM8 11V7a4 4 0 0 1 8 0v4",
  chevronDown: "M6 9l6 6 6-6",
  chevronRight: "M9 6l6 6-6 6",
  chevronLeft: "M15 6l-6 6 6 6",
  refresh: "M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7",
  copy: "M9 9h11v11H9zM5 15H4V4h11v1",
  back: "M19 12H5m0 0 6-6m-6 6 6 6",
  flow: "M3 5h6v5H3zM15 14h6v5h-6zM9 7.5h3a2 2 0 0 1 2 2v5.5a2 2 0 0 0 2 2",
  events: "M4 6h16M4 12h10M4 18h7",
  problems: "M12 3 2 20h20L12 3zM12 10v4M12 17h.01",
  diff: "M6 3v12M3 6h6M15 18h6M18 9a3 3 0 1 0 0-.1M6 21a3 3 0 1 0 0-.1",
};

/** Pick the best icon for a processor: its declared icon, then its type, then its category. */
export function processorIconName(icon: string | undefined, type: string | undefined, category: string | undefined): string {
  for (const name of [icon, type, category]) if (name && PATHS[name]) return name;
  return "transform";
}

export interface IconProps {
  name: string;
  size?: number;
  className?: string;
  title?: string;
}

export const Icon = memo(function Icon({ name, size = 16, className, title }: IconProps) {
  const d = PATHS[name] ?? PATHS["transform"];
  return (
    <svg
      className={className ? `icon ${className}` : "icon"}
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth={1.8}
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden={title ? undefined : true}
      role={title ? "img" : undefined}
    >
      {title ? <title>{title}</title> : null}
      <path d={d} />
    </svg>
  );
});
