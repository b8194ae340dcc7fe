/**
 * The canvas build. `root` is this folder whichever directory vite is started from
 * (`npm install` runs `vite build web` from the repository root), and the output goes to
 * `web/dist`, which the Stitch server serves at `/`.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: './',
  plugins: [react()],
  // Payload types come from the server's vocabulary file (`import type` only: nothing of src/ is bundled).
  resolve: { alias: { '@': here('../src') } },
  build: {
    outDir: here('dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 600,
  },
  server: {
    // `npx vite web` for canvas work against a running `npm start` (STITCH_URL to point elsewhere).
    proxy: { '/api': { target: process.env.STITCH_URL ?? 'http://127.0.0.1:3000', changeOrigin: true } },
  },
});
