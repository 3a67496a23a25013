// vitest globalSetup: one throwaway PostgreSQL and one throwaway Redis for the whole run, started
// in temp dirs on free ports and removed at the end. PostgreSQL gets a migrated template database;
// each test database is a fast clone of it (see databases.ts).
//
// Environment:
//   VAULTGATE_TEST_PG_URL     use this existing server (a superuser URL, e.g. postgres://postgres@host/postgres)
//   VAULTGATE_TEST_REDIS_URL  use this existing Redis
//   VAULTGATE_TEST_PG_BINDIR  look for initdb/postgres only in this directory
//   VAULTGATE_TEST_REDIS_SERVER  path of the redis-server binary
//   CI=true                   a missing engine fails the run instead of skipping its suites
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openPostgres } from '../../src/storage/postgres/postgres-database.js';
import { withAdminClient } from './pg-admin.js';
import { TEMPLATE_DATABASE } from './shared.js';

const isCI = process.env.CI === 'true' || process.env.CI === '1';
const STARTUP_TIMEOUT_MS = 30_000;

/** A prerequisite is missing: skip the engine's suites locally, fail on CI. */
class Unavailable extends Error {}

interface RunAs {
  uid: number;
  gid: number;
}

interface Server {
  url: string;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Cleanup of last resort, for when the run ends without teardown (crash, SIGTERM, even SIGKILL of
// the vitest process): an exit hook for the soft cases, and a watchdog process that notices the
// parent is gone (its stdin pipe closes) and kills the servers and removes their dirs.

type Reapable = { kind: 'kill'; pid: number; signal: NodeJS.Signals } | { kind: 'rm'; dir: string };

// The watchdog, inlined so nothing needs building; it ignores terminal signals so it outlives the
// run it guards, and does nothing when every item was released (the normal teardown).
const WATCHDOG = `
const items = new Map();
let buf = '';
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  for (let i; (i = buf.indexOf('\\n')) >= 0; ) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    const op = line.slice(0, 3), item = line.slice(4);
    if (op === 'add') items.set(item, JSON.parse(item)); else items.delete(item);
  }
});
process.stdin.on('end', async () => {
  const all = [...items.values()];
  const pids = all.filter((i) => i.kind === 'kill').map((i) => i.pid);
  for (const i of all) if (i.kind === 'kill') try { process.kill(i.pid, i.signal); } catch {}
  const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  for (let n = 0; n < 100 && pids.some(alive); n++) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids) if (alive(pid)) try { process.kill(pid, 'SIGKILL'); } catch {}
  for (const i of all) if (i.kind === 'rm') require('node:fs').rmSync(i.dir, { recursive: true, force: true });
  process.exit(0);
});
`;

class Reaper {
  private readonly items = new Map<string, Reapable>();
  private watchdog: ChildProcess | undefined;

  constructor() {
    process.once('exit', () => {
      for (const item of this.items.values()) {
        if (item.kind === 'kill') {
          try {
            process.kill(item.pid, item.signal);
          } catch {
            // already gone
          }
        }
      }
      // Directories are left to the watchdog: a server may still be writing into them.
    });
  }

  private send(line: string): void {
    if (!this.watchdog) {
      this.watchdog = spawn(process.execPath, ['-e', WATCHDOG], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
      this.watchdog.on('error', () => undefined);
      this.watchdog.stdin?.on('error', () => undefined);
      this.watchdog.unref();
      (this.watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    }
    this.watchdog.stdin?.write(`${line}\n`);
  }

  private add(item: Reapable): () => void {
    const key = JSON.stringify(item);
    this.items.set(key, item);
    this.send(`add ${key}`);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.items.delete(key);
      this.send(`del ${key}`);
    };
  }

  killLater(child: ChildProcess, signal: NodeJS.Signals): () => void {
    return child.pid === undefined ? () => undefined : this.add({ kind: 'kill', pid: child.pid, signal });
  }

  removeLater(dir: string): () => void {
    return this.add({ kind: 'rm', dir });
  }
}

const reaper = new Reaper();

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started: Server[] = [];
  const teardown = async (): Promise<void> => {
    // Stop in reverse order; one failing stop must not leave the other running.
    const results = await Promise.allSettled(started.reverse().map((s) => s.stop()));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  try {
    const [pgResult, redisResult] = await Promise.allSettled([preparePostgres(), prepareRedis()]);
    if (pgResult.status === 'fulfilled' && pgResult.value.server) started.push(pgResult.value.server);
    if (redisResult.status === 'fulfilled' && redisResult.value.server) started.push(redisResult.value.server);

    const pgAdminUrl = engineOutcome('PostgreSQL', pgResult);
    const redisUrl = engineOutcome('Redis', redisResult);
    project.provide('pgAdminUrl', pgAdminUrl.url);
    project.provide('pgSkipReason', pgAdminUrl.skipReason);
    project.provide('redisUrl', redisUrl.url);
    project.provide('redisSkipReason', redisUrl.skipReason);
  } catch (err) {
    await teardown().catch(() => undefined);
    throw err;
  }
  return teardown;
}

function engineOutcome(
  name: string,
  result: PromiseSettledResult<{ url: string; server?: Server }>,
): { url: string | undefined; skipReason: string | undefined } {
  if (result.status === 'fulfilled') return { url: result.value.url, skipReason: undefined };
  const err: unknown = result.reason;
  if (err instanceof Unavailable) {
    if (isCI) {
      const line = `vaultgate tests: ${err.message}; CI=true, so the run FAILS — ${installHint(name)}`;
      console.error(line);
      throw new Error(line);
    }
    console.warn(`vaultgate tests: ${err.message}; ${name} suites SKIPPED — ${installHint(name)}`);
    return { url: undefined, skipReason: err.message };
  }
  throw err;
}

function installHint(name: string): string {
  return name === 'PostgreSQL'
    ? 'install the Debian package postgresql to run them (or set VAULTGATE_TEST_PG_URL)'
    : 'install the Debian package redis-server to run them (or set VAULTGATE_TEST_REDIS_URL)';
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

async function preparePostgres(): Promise<{ url: string; server?: Server }> {
  const external = process.env.VAULTGATE_TEST_PG_URL;
  if (external) {
    await waitFor(() => pgPing(external), 10_000, () => `PostgreSQL at VAULTGATE_TEST_PG_URL does not answer`);
    await createTemplate(external);
    return {
      url: external,
      server: {
        url: external,
        stop: async () => {
          await dropDatabase(external, TEMPLATE_DATABASE);
        },
      },
    };
  }
  const binDir = findPostgresBinDir();
  if (!binDir) throw new Unavailable('PostgreSQL not found (initdb)');
  const runAs = postgresRunAs();
  const server = await startPostgres(binDir, runAs);
  try {
    await createTemplate(server.url);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { url: server.url, server };
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findPostgresBinDir(): string | undefined {
  const hasBoth = (dir: string): boolean => isExecutable(path.join(dir, 'initdb')) && isExecutable(path.join(dir, 'postgres'));
  const override = process.env.VAULTGATE_TEST_PG_BINDIR;
  if (override !== undefined) return hasBoth(override) ? override : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && hasBoth(dir)) return dir;
  }
  // Debian/Ubuntu keep the server binaries off PATH, one directory per major version: newest first.
  const candidates: string[] = [];
  for (const root of ['/usr/lib/postgresql']) {
    if (!existsSync(root)) continue;
    const versions = readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => path.join(root, v, 'bin')));
  }
  // RHEL/Fedora (PGDG) layout.
  if (existsSync('/usr')) {
    const pgsql = readdirSync('/usr').filter((d) => /^pgsql-\d+$/.test(d)).sort((a, b) => Number(b.slice(6)) - Number(a.slice(6)));
    candidates.push(...pgsql.map((d) => path.join('/usr', d, 'bin')));
  }
  return candidates.find(hasBoth);
}

/** initdb and postgres refuse to run as root: as root, run them as the `postgres` OS user. */
function postgresRunAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid };
  } catch {
    // fall through
  }
  throw new Unavailable('PostgreSQL cannot run as root and there is no `postgres` OS user');
}

async function startPostgres(binDir: string, runAs: RunAs | undefined): Promise<Server> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-pg-'));
  const releaseDir = reaper.removeLater(dir);
  const removeDir = (): void => {
    rmSync(dir, { recursive: true, force: true });
    releaseDir();
  };
  try {
    if (runAs) chownSync(dir, runAs.uid, runAs.gid);
    const data = path.join(dir, 'data');
    await runToEnd(
      path.join(binDir, 'initdb'),
      ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { cwd: dir, runAs },
    );

    // A free port can be taken between probing and binding: try a few.
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      const child = spawnChild(
        path.join(binDir, 'postgres'),
        [
          '-D', data,
          '-p', String(port),
          '-c', 'listen_addresses=127.0.0.1',
          '-c', `unix_socket_directories=${dir}`,
          // Durability is worthless for a throwaway server; speed is not.
          '-c', 'fsync=off',
          '-c', 'synchronous_commit=off',
          '-c', 'full_page_writes=off',
          '-c', 'autovacuum=off',
          '-c', 'max_connections=300',
          '-c', 'shared_buffers=128MB',
          '-c', 'max_wal_size=2GB',
          '-c', 'checkpoint_timeout=1h',
          // Deadlock tests need not wait the default second.
          '-c', 'deadlock_timeout=100ms',
          '-c', 'logging_collector=off',
          '-c', 'log_min_messages=warning',
          '-c', 'log_min_error_statement=panic',
        ],
        { cwd: dir, runAs },
      );
      // SIGQUIT = immediate shutdown: the postmaster takes its backends down with it.
      const releaseKill = reaper.killLater(child.process, 'SIGQUIT');
      try {
        await waitFor(() => pgPing(url), STARTUP_TIMEOUT_MS, () => `PostgreSQL did not start:\n${child.output()}`, child);
      } catch (err) {
        lastError = err;
        await stopChild(child.process, ['SIGINT', 'SIGQUIT', 'SIGKILL']);
        releaseKill();
        if (/could not bind|Address already in use/i.test(child.output())) continue;
        throw err;
      }
      return {
        url,
        stop: async () => {
          // SIGINT = fast shutdown: disconnects clients and exits.
          await stopChild(child.process, ['SIGINT', 'SIGQUIT', 'SIGKILL']);
          releaseKill();
          removeDir();
        },
      };
    }
    throw lastError;
  } catch (err) {
    removeDir();
    throw err;
  }
}

async function pgPing(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function databaseUrl(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

const withAdmin = withAdminClient;

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withAdmin(adminUrl, async (c) => {
    const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) return;
    // A template database cannot be dropped until it is unmarked.
    await c.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE false`);
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
}

/** (Re)creates the template database with every migration applied, through the real adapter. */
async function createTemplate(adminUrl: string): Promise<void> {
  await dropDatabase(adminUrl, TEMPLATE_DATABASE);
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${TEMPLATE_DATABASE} TEMPLATE template0 ENCODING 'UTF8'`));
  const db = await openPostgres(databaseUrl(adminUrl, TEMPLATE_DATABASE));
  try {
    await db.migrate();
  } finally {
    await db.close();
  }
  // No session may connect to it afterwards: CREATE DATABASE … TEMPLATE fails while one is connected.
  await withAdmin(adminUrl, (c) => c.query(`ALTER DATABASE ${TEMPLATE_DATABASE} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`));
}

// ---------------------------------------------------------------------------------------------
// Redis

async function prepareRedis(): Promise<{ url: string; server?: Server }> {
  const external = process.env.VAULTGATE_TEST_REDIS_URL;
  if (external) {
    const u = new URL(external);
    await waitFor(
      () => redisPing(Number(u.port || 6379), u.hostname || '127.0.0.1'),
      10_000,
      () => 'Redis at VAULTGATE_TEST_REDIS_URL does not answer PING',
    );
    return { url: external };
  }
  const bin = findRedisServer();
  if (!bin) throw new Unavailable('Redis not found (redis-server)');
  const server = await startRedis(bin);
  return { url: server.url, server };
}

function findRedisServer(): string | undefined {
  const override = process.env.VAULTGATE_TEST_REDIS_SERVER;
  if (override !== undefined) return isExecutable(override) ? override : undefined;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/local/bin', '/usr/sbin', '/opt/homebrew/bin'];
  return dirs.filter(Boolean).map((d) => path.join(d, 'redis-server')).find(isExecutable);
}

async function startRedis(bin: string): Promise<Server> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-redis-'));
  const releaseDir = reaper.removeLater(dir);
  const removeDir = (): void => {
    rmSync(dir, { recursive: true, force: true });
    releaseDir();
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawnChild(
      bin,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, '--loglevel', 'warning'],
      { cwd: dir },
    );
    const releaseKill = reaper.killLater(child.process, 'SIGKILL');
    try {
      await waitFor(() => redisPing(port), STARTUP_TIMEOUT_MS, () => `Redis did not start:\n${child.output()}`, child);
    } catch (err) {
      lastError = err;
      await stopChild(child.process, ['SIGTERM', 'SIGKILL']);
      releaseKill();
      if (/Address already in use/i.test(child.output())) continue;
      break;
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      stop: async () => {
        await stopChild(child.process, ['SIGTERM', 'SIGKILL']);
        releaseKill();
        removeDir();
      },
    };
  }
  removeDir();
  throw lastError;
}

/** PING over a raw socket: no client library needed to know the server is up. */
function redisPing(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    let buffer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      if (buffer.includes('\r\n')) done(buffer.startsWith('+PONG'));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Processes, ports, waiting

interface Child {
  process: ChildProcess;
  output(): string;
}

function spawnChild(cmd: string, args: string[], opts: { cwd: string; runAs?: RunAs | undefined }): Child {
  const options: SpawnOptions = { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } };
  if (opts.runAs) {
    options.uid = opts.runAs.uid;
    options.gid = opts.runAs.gid;
  }
  const child = spawn(cmd, args, options);
  // Keep the tail of the output for error messages; always drain the pipes.
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => keep(Buffer.from(`spawn error: ${err.message}\n`)));
  return { process: child, output: () => tail };
}

async function runToEnd(cmd: string, args: string[], opts: { cwd: string; runAs?: RunAs | undefined }): Promise<void> {
  const child = spawnChild(cmd, args, opts);
  const code = await new Promise<number | null>((resolve) => {
    child.process.on('close', (c) => resolve(c));
    child.process.on('error', () => resolve(-1));
  });
  if (code !== 0) throw new Error(`${path.basename(cmd)} failed (exit ${code}):\n${child.output()}`);
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Sends each signal in turn, giving the process a while to exit after each. */
async function stopChild(child: ChildProcess, signals: NodeJS.Signals[]): Promise<void> {
  for (const signal of signals) {
    if (exited(child)) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, signal === 'SIGKILL' ? 5000 : 10_000).unref());
    await Promise.race([gone, timeout]);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

async function waitFor(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  message: () => string,
  child?: Child,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && exited(child.process)) throw new Error(message());
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((r) => setTimeout(r, 50));
  }
}
