// Builds the console's front end into console/dist (run by `npm run build:console`, part of
// prepare). Hashed asset names, no inline script or style (the page's CSP allows neither), no
// module-preload polyfill (it would be one more script for nothing: every target browser has it).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: path.dirname(fileURLToPath(import.meta.url)),
  base: '/console/',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
});
