/// <reference types="vitest/config" />
// Vite config: the backend serves dist/ at "/", so assets use absolute "/" URLs and
// every API call is relative ("/api/v1/..."). In dev, /api (incl. WebSockets) and
// /health are proxied to the backend.
import { copyFileSync, mkdirSync } from "node:fs";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

/** Swagger UI for the API reference page (/schema), copied from node_modules into the build:
 * served by the server itself, since its CSP allows scripts from its own origin only. */
function apiReferenceAssets(): Plugin {
  return {
    name: "dataflow-api-reference-assets",
    apply: "build",
    writeBundle(options) {
      const out = `${options.dir ?? "dist"}/vendor/api-reference`;
      mkdirSync(out, { recursive: true });
      for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
        copyFileSync(`node_modules/swagger-ui-dist/${file}`, `${out}/${file}`);
      }
    },
  };
}

// DATAFLOW_BACKEND overrides the backend address for `npm run dev`.
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const backend = env["DATAFLOW_BACKEND"] ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/",
  plugins: [react(), apiReferenceAssets()],
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
