import { defineConfig } from "vite";

// Served by the gateway at /app (python/opendpg/gateway/main.py mounts frontend/dist there).
export default defineConfig({
  base: "/app/",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true, target: "es2022" },
});
