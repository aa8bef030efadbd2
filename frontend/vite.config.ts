import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { type Plugin } from "vite";
import { defineConfig } from "vitest/config";

const here = dirname(fileURLToPath(import.meta.url));
const api = process.env.API_URL ?? "http://127.0.0.1:8000";

/** Swagger UI and ReDoc from npm, so the API's /docs and /redoc work offline. */
function docsAssets(): Plugin {
  const files: [string, string][] = [
    ["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"],
    ["swagger-ui-dist/swagger-ui.css", "swagger-ui.css"],
    ["swagger-ui-dist/favicon-32x32.png", "favicon-32x32.png"],
    ["redoc/bundles/redoc.standalone.js", "redoc.standalone.js"],
  ];
  return {
    name: "docs-assets",
    apply: "build",
    writeBundle(options) {
      const out = join(options.dir ?? join(here, "dist"), "docs-assets");
      mkdirSync(out, { recursive: true });
      for (const [from, to] of files) cpSync(join(here, "node_modules", from), join(out, to));
    },
  };
}

/** Gzipped copies of the hashed assets, which the API sends to browsers that accept gzip. */
function precompress(): Plugin {
  return {
    name: "precompress",
    apply: "build",
    writeBundle(options) {
      const assets = join(options.dir ?? join(here, "dist"), "assets");
      for (const name of readdirSync(assets)) {
        if (!/\.(js|css)$/.test(name)) continue;
        const path = join(assets, name);
        writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  base: "/app/",
  plugins: [react(), docsAssets(), precompress()],
  server: {
    port: 5173,
    // Dev mode: the API runs on its own port; same-origin requests are proxied to it.
    proxy: Object.fromEntries(
      ["/auth", "/tickets", "/analytics", "/settings", "/health", "/sandbox"].map((path) => [
        path,
        { target: api, changeOrigin: true },
      ]),
    ),
  },
  build: {
    outDir: "dist",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  test: {
    environment: "jsdom",
    globals: true,
    testTimeout: 20_000,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
