// The console's front end, built from source for the tests when the build is older than its
// sources. Test files run in parallel (and a developer may run two suites at once): the build
// runs under a lock, into a scratch directory that then replaces console/dist, so a server that
// starts meanwhile never reads a half-written build.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'vite';

const root = path.resolve(import.meta.dirname, '../../console');
const dist = path.join(root, 'dist');
const lock = path.join(tmpdir(), `vaultgate-console-build-${createHash('sha256').update(root).digest('hex').slice(0, 12)}.lock`);
const STALE_LOCK_MS = 120_000;

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist') continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(full) : statSync(full).mtimeMs);
  }
  return newest;
}

const fresh = () => existsSync(path.join(dist, 'index.html')) && statSync(path.join(dist, 'index.html')).mtimeMs >= newestSource(root);

async function withLock<T>(work: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Held by another run; a lock left by a run that died is taken over.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export async function ensureConsoleBuilt(): Promise<void> {
  if (fresh()) return;
  await withLock(async () => {
    if (fresh()) return;
    const scratch = path.resolve(root, '..', 'node_modules', '.cache', `vaultgate-console-${process.pid}`);
    rmSync(scratch, { recursive: true, force: true });
    await build({ configFile: path.join(root, 'vite.config.js'), logLevel: 'error', build: { outDir: scratch, emptyOutDir: true } });
    const old = `${scratch}-old`;
    if (existsSync(dist)) renameSync(dist, old);
    renameSync(scratch, dist);
    rmSync(old, { recursive: true, force: true });
  });
}
