/// <reference types="vitest/config" />
// Vite config: the backend serves dist/ at "/", so assets use absolute "/" URLs and
// every API call is relative ("/api/v1/..."). In dev, /api (incl. WebSockets) and
// /health are proxied to the backend.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// DATAFLOW_BACKEND overrides the backend address for `npm run dev`.
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const backend = env["DATAFLOW_BACKEND"] ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/",
  plugins: [react()],
  server: {
    port: 5173,
    proxy: {
      "/api": { target: backend, changeOrigin: true, ws: true },
      "/health": { target: backend, changeOrigin: true },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1500,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
