// The console's front end, built by Vite into console/dist at `npm ci` (prepare): one HTML page
// for every console path (the page routes itself), and assets whose names carry a content hash,
// so they are cached for a year and never revalidated. The page itself is never cached.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** No inline script or style, nothing from another origin (connect-src 'self' covers the alert stream). */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export const IMMUTABLE = 'public, max-age=31536000, immutable';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** A hashed asset name as Vite writes it (name-HASH.ext): no path, no dots beyond the extension. */
const ASSET_NAME = /^[A-Za-z0-9_-]+-[A-Za-z0-9_-]{8,}\.(js|css|svg|png)$/;

export interface ConsoleAssets {
  /** The page, or undefined when the front end was not built. */
  html: Buffer | undefined;
  asset(name: string): { body: Buffer; type: string } | undefined;
}

/** Reads the build once at start (a handful of small files): a request never touches the disk. */
export function loadConsoleAssets(dir = defaultDir()): ConsoleAssets {
  let html: Buffer | undefined;
  const files = new Map<string, { body: Buffer; type: string }>();
  try {
    html = readFileSync(path.join(dir, 'index.html'));
    for (const name of readdirSync(path.join(dir, 'assets'))) {
      const type = TYPES[path.extname(name)];
      if (type && ASSET_NAME.test(name)) files.set(name, { body: readFileSync(path.join(dir, 'assets', name)), type });
    }
  } catch {
    html = undefined;
  }
  return { html, asset: (name) => files.get(name) };
}

/** console/dist beside src/ or dist/ (this file runs from either). */
function defaultDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'console', 'dist');
}
