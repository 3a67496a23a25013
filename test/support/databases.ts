// Test databases on every engine, and suites that loop over engines (Kysely-style dialect tests).
// SQLite: a migrated file in a fresh temp dir. PostgreSQL: a clone of the migrated template the
// global setup made (CREATE DATABASE … TEMPLATE is a file copy, far faster than migrating).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, inject } from 'vitest';
import { openPostgres } from '../../src/storage/postgres/postgres-database.js';
import { openSqlite } from '../../src/storage/sqlite/sqlite-database.js';
import type { Database, Engine } from '../../src/storage/types.js';
import { withAdminClient } from './pg-admin.js';
import { TEMPLATE_DATABASE } from './shared.js';

export type { Engine } from '../../src/storage/types.js';

/** Every engine, for `for (const engine of engines)` or `describe.each(engines)`. */
export const engines: readonly Engine[] = ['sqlite', 'postgres'];

export interface TestDatabase {
  engine: Engine;
  db: Database;
  /** The DATABASE_URL form: `sqlite:/tmp/…/vaultgate.db` or `postgres://…/vg_…`. */
  url: string;
  /** Closes `db` and deletes the database (file or PostgreSQL database). Safe to call twice. */
  dispose(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** false: an empty database with no migration applied (to test migrate() itself). Default true. */
  migrated?: boolean;
}

/** Why the engine's suites cannot run here, or undefined when they can. */
export function engineSkipReason(engine: Engine): string | undefined {
  if (engine === 'sqlite') return undefined;
  if (inject('pgAdminUrl')) return undefined;
  return inject('pgSkipReason') ?? 'PostgreSQL unavailable';
}

export function engineAvailable(engine: Engine): boolean {
  return engineSkipReason(engine) === undefined;
}

export async function createTestDatabase(engine: Engine, options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const migrated = options.migrated ?? true;
  return engine === 'sqlite' ? createSqlite(migrated) : createPostgres(migrated);
}

/** Opens a second connection (another "node") to a test database by its URL; the caller closes it. */
export async function openDatabaseUrl(url: string): Promise<Database> {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length));
  return openPostgres(url);
}

async function createSqlite(migrated: boolean): Promise<TestDatabase> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-sqlite-'));
  const file = path.join(dir, 'vaultgate.db');
  let db: Database;
  try {
    db = await openSqlite(file);
    if (migrated) await db.migrate();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let disposed = false;
  return {
    engine: 'sqlite',
    db,
    url: `sqlite:${file}`,
    dispose: async () => {
      if (disposed) return;
      disposed = true;
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function requirePgAdminUrl(): string {
  const url = inject('pgAdminUrl');
  if (!url) {
    throw new Error(
      `PostgreSQL is unavailable (${inject('pgSkipReason') ?? 'unknown reason'}): wrap the suite in describeEngines() or describePostgres()`,
    );
  }
  return url;
}

const admin = withAdminClient;

async function createPostgres(migrated: boolean): Promise<TestDatabase> {
  const adminUrl = requirePgAdminUrl();
  // Identifiers cannot be bound as parameters; this one is generated here, never from input.
  const name = `vg_${randomBytes(8).toString('hex')}`;
  const template = migrated ? TEMPLATE_DATABASE : 'template0';
  await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  let db: Database;
  try {
    db = await openPostgres(url);
  } catch (err) {
    await admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    throw err;
  }
  let disposed = false;
  return {
    engine: 'postgres',
    db,
    url,
    dispose: async () => {
      if (disposed) return;
      disposed = true;
      await db.close().catch(() => undefined);
      // FORCE: a connection opened by the test and never closed must not keep the database alive.
      await admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/**
 * `describe(\`${name} [engine]\`)` once per engine; an engine that cannot run here gets
 * `describe.skip` with the reason in its title (its tests are reported as skipped).
 */
export function describeEngines(name: string, fn: (engine: Engine) => void): void {
  for (const engine of engines) {
    const reason = engineSkipReason(engine);
    if (reason === undefined) describe(`${name} [${engine}]`, () => fn(engine));
    else describe.skip(`${name} [${engine}] — SKIPPED: ${reason}`, () => fn(engine));
  }
}

/** A PostgreSQL-only suite, skipped with the reason when PostgreSQL is unavailable. */
export function describePostgres(name: string, fn: () => void): void {
  const reason = engineSkipReason('postgres');
  if (reason === undefined) describe(name, fn);
  else describe.skip(`${name} — SKIPPED: ${reason}`, fn);
}

// ---------------------------------------------------------------------------------------------
// Redis

export function redisAvailable(): boolean {
  return inject('redisUrl') !== undefined;
}

/** The test Redis URL; throws when Redis is unavailable (use describeRedis to skip instead). */
export function redisUrl(): string {
  const url = inject('redisUrl');
  if (!url) throw new Error(`Redis is unavailable (${inject('redisSkipReason') ?? 'unknown reason'}): wrap the suite in describeRedis()`);
  return url;
}

/**
 * A Redis suite, skipped with the reason when Redis is unavailable. Every test run shares one
 * Redis: prefix your keys with `uniqueRedisPrefix()` rather than flushing the database.
 */
export function describeRedis(name: string, fn: () => void): void {
  if (redisAvailable()) describe(name, fn);
  else describe.skip(`${name} — SKIPPED: ${inject('redisSkipReason') ?? 'Redis unavailable'}`, fn);
}

/** A fresh key prefix (`vgtest:<hex>:`) so suites running in parallel never see each other's keys. */
export function uniqueRedisPrefix(): string {
  return `vgtest:${randomBytes(6).toString('hex')}:`;
}
