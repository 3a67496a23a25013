// PostgreSQL adapter (pg). Transactions run at READ COMMITTED; money code takes row locks
// (SELECT … FOR UPDATE / conditional UPDATE), and a deadlock or serialization failure is retried.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { ChangeFeed, Database, Migration, Row, Sql, SqlValue, TransactionOptions } from '../types.js';
import { createPgChangeFeed } from './pg-change-feed.js';
import { DEFAULT_POOL_MAX } from './pool-size.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';

// int8 (BIGINT, COUNT) as bigint, the same as the SQLite adapter.
pg.types.setTypeParser(20, (v) => BigInt(v));

const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const MAX_ATTEMPTS = 5;

function prepareParams(params: readonly SqlValue[]): unknown[] {
  return params.map((v) => (typeof v === 'bigint' ? v.toString() : v));
}

// Named statements let PostgreSQL parse and plan each SQL text once per connection.
const names = new Map<string, string>();
function statementName(sql: string): string {
  let name = names.get(sql);
  if (!name) {
    name = `vg_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    names.set(sql, name);
  }
  return name;
}

class PgSql implements Sql {
  constructor(private readonly client: pg.Pool | pg.PoolClient) {}

  async query<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    const res = await this.client.query({ name: statementName(sql), text: sql, values: prepareParams(params) });
    return res.rows as T[];
  }
  async one<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return (await this.query<T>(sql, params))[0];
  }
  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    const res = await this.client.query({ name: statementName(sql), text: sql, values: prepareParams(params) });
    return res.rowCount ?? 0;
  }
}

/** A transaction's handle: its statements, and what runs once it has committed. */
class PgTransaction extends PgSql {
  constructor(
    client: pg.PoolClient,
    private readonly committed: Array<() => Promise<unknown>>,
  ) {
    super(client);
  }
  afterCommit(fn: () => Promise<unknown>): void {
    this.committed.push(fn);
  }
}

class PostgresDatabase extends PgSql implements Database {
  readonly engine = 'postgres' as const;
  readonly forUpdate = 'FOR UPDATE';
  readonly forUpdateSkipLocked = 'FOR UPDATE SKIP LOCKED';

  constructor(
    private readonly pool: pg.Pool,
    readonly standingChanges: ChangeFeed,
  ) {
    super(pool);
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      const committed: Array<() => Promise<unknown>> = [];
      let released = false;
      try {
        await client.query('BEGIN');
        // Not waiting for the WAL flush: the next synchronous commit flushes this one too.
        if (options.durable === false) await client.query('SET LOCAL synchronous_commit TO OFF');
        const result = await fn(new PgTransaction(client, committed));
        await client.query('COMMIT');
        client.release();
        released = true;
        await Promise.allSettled(committed.map((hook) => hook()));
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        const code = (err as { code?: string }).code;
        if (attempt < MAX_ATTEMPTS && code !== undefined && RETRYABLE.has(code)) {
          await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
          continue;
        }
        throw err;
      } finally {
        if (!released) client.release();
      }
    }
  }

  async migrate(): Promise<string[]> {
    return applyPostgresMigrations(this.pool, POSTGRES_MIGRATIONS);
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.standingChanges.close();
    await this.pool.end();
  }
}

async function applyPostgresMigrations(pool: pg.Pool, migrations: readonly Migration[]): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('BEGIN');
    // One migrator at a time across every node; the lock ends with the transaction.
    await client.query('SELECT pg_advisory_xact_lock(7244011)');
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
    const done = new Set(
      (await client.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)),
    );
    // In version order, whatever the order of the array.
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
      applied.push(`${m.version}_${m.name}`);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export async function openPostgres(url: string, options: { max?: number } = {}): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? DEFAULT_POOL_MAX, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return new PostgresDatabase(pool, createPgChangeFeed(url));
}
