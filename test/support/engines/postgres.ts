// The test run's PostgreSQL: an existing server (VAULTGATE_TEST_PG_URL) or a throwaway one from the
// installed binaries (initdb in a temp dir, a free port, durability off), with a migrated template
// database that each test database is cloned from (see ../databases.ts).
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openPostgres } from '../../../src/storage/postgres/postgres-database.js';
import { withAdminClient } from '../pg-admin.js';
import { freePort } from '../ports.js';
import {
  isExecutable,
  runToEnd,
  spawnChild,
  STARTUP_TIMEOUT_MS,
  stopChild,
  Unavailable,
  waitFor,
  type RunAs,
  type Server,
} from '../processes.js';
import { reaper } from '../reaper.js';
import { TEMPLATE_DATABASE } from '../shared.js';

export async function preparePostgres(): Promise<{ url: string; server?: Server }> {
  const external = process.env.VAULTGATE_TEST_PG_URL;
  if (external) {
    await waitFor(
      () => pgPing(external),
      10_000,
      () => `PostgreSQL at VAULTGATE_TEST_PG_URL does not answer`,
    );
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
    const versions = readdirSync(root)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => path.join(root, v, 'bin')));
  }
  // RHEL/Fedora (PGDG) layout.
  if (existsSync('/usr')) {
    const pgsql = readdirSync('/usr')
      .filter((d) => /^pgsql-\d+$/.test(d))
      .sort((a, b) => Number(b.slice(6)) - Number(a.slice(6)));
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
    await runToEnd(path.join(binDir, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'], {
      cwd: dir,
      runAs,
    });

    // A free port can be taken between probing and binding: try a few.
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      const child = spawnChild(
        path.join(binDir, 'postgres'),
        [
          '-D',
          data,
          '-p',
          String(port),
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          `unix_socket_directories=${dir}`,
          // Durability is worthless for a throwaway server; speed is not.
          '-c',
          'fsync=off',
          '-c',
          'synchronous_commit=off',
          '-c',
          'full_page_writes=off',
          '-c',
          'autovacuum=off',
          '-c',
          'max_connections=300',
          '-c',
          'shared_buffers=128MB',
          '-c',
          'max_wal_size=2GB',
          '-c',
          'checkpoint_timeout=1h',
          // Deadlock tests need not wait the default second.
          '-c',
          'deadlock_timeout=100ms',
          '-c',
          'logging_collector=off',
          '-c',
          'log_min_messages=warning',
          '-c',
          'log_min_error_statement=panic',
        ],
        { cwd: dir, runAs },
      );
      // SIGQUIT = immediate shutdown: the postmaster takes its backends down with it.
      const releaseKill = reaper.killLater(child.process, 'SIGQUIT');
      try {
        await waitFor(
          () => pgPing(url),
          STARTUP_TIMEOUT_MS,
          () => `PostgreSQL did not start:\n${child.output()}`,
          child,
        );
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
