/// <reference types="vitest/config" />
// The admin SPA. `npm run dev` serves it with the admin API and the proxy
// routes forwarded to a running gproxy (GPROXY_URL, default
// http://127.0.0.1:8787), so the session cookie stays same-origin.
import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const target = process.env.GPROXY_URL ?? "http://127.0.0.1:8787";
const proxied = ["/admin", "/v1", "/v1beta", "/health"];

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    proxy: Object.fromEntries(proxied.map((path) => [path, { target, changeOrigin: false }])),
  },
  build: {
    // The Rust build embeds dist/ and sets the caching: hashed names under
    // assets/ are immutable. No inline scripts (the CSP forbids them).
    assetsDir: "assets",
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
  },
});
