// SQLite adapter (better-sqlite3 12): WAL with synchronous=FULL, so an acknowledged commit
// survives a power cut. better-sqlite3 is synchronous; a small queue makes async transactions
// exclusive, so no other request can read this connection's uncommitted rows.
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { ChangeFeed, Database, Migration, Row, Sql, SqlValue, TransactionOptions } from '../types.js';
import { createSqliteChangeFeed } from './sqlite-change-feed.js';
import { SQLITE_MIGRATIONS } from './migrations.js';

type Statement = BetterSqlite3.Statement<Record<string, unknown>, unknown>;

function toNamed(sql: string): string {
  return sql.replace(/\$(\d+)/g, '@p$1');
}

function bindings(params: readonly SqlValue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  params.forEach((v, i) => {
    out[`p${i + 1}`] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  });
  return out;
}

class SqliteSql implements Sql {
  private readonly cache = new Map<string, Statement>();
  constructor(protected readonly db: BetterSqlite3.Database) {}

  protected prepare(sql: string): Statement {
    let stmt = this.cache.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<Record<string, unknown>, unknown>(toNamed(sql));
      this.cache.set(sql, stmt);
    }
    return stmt;
  }

  querySync<T>(sql: string, params: readonly SqlValue[]): T[] {
    const stmt = this.prepare(sql);
    return (stmt.reader ? stmt.all(bindings(params)) : (stmt.run(bindings(params)), [])) as T[];
  }

  async query<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.querySync<T>(sql, params);
  }

  async one<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    const stmt = this.prepare(sql);
    if (!stmt.reader) {
      stmt.run(bindings(params));
      return undefined;
    }
    return stmt.get(bindings(params)) as T | undefined;
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.prepare(sql).run(bindings(params)).changes;
  }
}

interface PendingTransaction {
  fn: (tx: Sql) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  durable: boolean;
}

// Bounds the work (and the write lock) one group holds, so readers of other processes get turns.
const MAX_GROUP = 64;
const PING_TIMEOUT_MS = 5_000;

class SqliteDatabase extends SqliteSql implements Database {
  readonly engine = 'sqlite' as const;
  readonly forUpdate = '';
  readonly forUpdateSkipLocked = '';
  private tail: Promise<unknown> = Promise.resolve();
  private inTransaction = false;
  private readonly txSql: Sql;
  readonly standingChanges: ChangeFeed;

  constructor(db: BetterSqlite3.Database) {
    super(db);
    this.standingChanges = createSqliteChangeFeed(db);
    // Statements inside a transaction go straight to the connection.
    this.txSql = {
      query: (sql, params = []) => SqliteSql.prototype.query.call(this, sql, params),
      one: (sql, params = []) => SqliteSql.prototype.one.call(this, sql, params),
      run: (sql, params = []) => SqliteSql.prototype.run.call(this, sql, params),
    } as Sql;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }

  // Outside a transaction a statement runs at once, unless a transaction is open: then it waits.
  // A statement on this handle from inside the running transaction's own callback (code that
  // should have used `tx`) would wait for the very transaction it is part of, and stall every
  // writer for good: it runs on the transaction instead.
  private readonly groupScope = new AsyncLocalStorage<object>();
  private runningGroup: object | undefined;
  private mustWait(): boolean {
    return this.inTransaction && (this.runningGroup === undefined || this.groupScope.getStore() !== this.runningGroup);
  }

  override async query<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    if (!this.mustWait()) return super.query<T>(sql, params);
    return this.exclusive(() => super.query<T>(sql, params));
  }
  override async one<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    if (!this.mustWait()) return super.one<T>(sql, params);
    return this.exclusive(() => super.one<T>(sql, params));
  }
  override async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    if (!this.mustWait()) return super.run(sql, params);
    return this.exclusive(() => super.run(sql, params));
  }

  /**
   * Group commit: transactions that arrive while another is being written are run together in one
   * SQLite transaction, each inside its own SAVEPOINT (a failing one rolls back alone), and share
   * one COMMIT, so one fsync serves the whole group. No caller is answered before that COMMIT has
   * returned: durability is unchanged, the disk is just asked less often. A group is durable
   * (synchronous=FULL) as soon as one of its members is.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject, durable: options.durable !== false });
      if (!this.groupScheduled) {
        this.groupScheduled = true;
        // Start on the next turn of the event loop, so every request already read in this turn
        // can join the group.
        setImmediate(() => void this.exclusive(() => this.commitGroup()));
      }
    });
  }

  private readonly pending: PendingTransaction[] = [];
  private groupScheduled = false;

  private async commitGroup(): Promise<void> {
    const group = this.pending.splice(0, MAX_GROUP);
    // Whatever arrives from now on waits for the next group (after this one, on the queue).
    this.groupScheduled = false;
    if (this.pending.length > 0) {
      this.groupScheduled = true;
      void this.exclusive(() => this.commitGroup());
    }
    const relaxed = group.every((t) => !t.durable);
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const groupToken = {};
    this.runningGroup = groupToken;
    this.inTransaction = true;
    // WAL + synchronous=NORMAL: this commit is not fsynced; the next FULL commit flushes it.
    if (relaxed) this.db.pragma('synchronous = NORMAL');
    try {
      this.db.exec('BEGIN IMMEDIATE');
      for (const t of group) {
        this.db.exec('SAVEPOINT vg_tx');
        try {
          const value = await this.groupScope.run(groupToken, () => t.fn(this.txSql));
          this.db.exec('RELEASE vg_tx');
          outcomes.push({ ok: true, value });
        } catch (error) {
          // An error that ended the whole transaction (SQLite does that for some I/O errors)
          // takes the group with it: nobody was answered yet, so everybody is told.
          if (!this.db.inTransaction) throw error;
          this.db.exec('ROLLBACK TO vg_tx');
          this.db.exec('RELEASE vg_tx');
          outcomes.push({ ok: false, error });
        }
      }
      this.db.exec('COMMIT');
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      for (const t of group) t.reject(error);
      return;
    } finally {
      if (relaxed) this.db.pragma('synchronous = FULL');
      this.inTransaction = false;
      this.runningGroup = undefined;
    }
    group.forEach((t, i) => {
      const o = outcomes[i] as (typeof outcomes)[number];
      if (o.ok) t.resolve(o.value);
      else t.reject(o.error);
    });
  }

  async migrate(): Promise<string[]> {
    return this.exclusive(async () => applySqliteMigrations(this.db, SQLITE_MIGRATIONS));
  }

  /** Through the write queue: a queue that does not move makes the node unready, not just slow. */
  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the SQLite write queue did not move within 5 s')), PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.exclusive(async () => this.db.prepare('SELECT 1').get()), stuck]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.exclusive(async () => {
      if (this.db.open) this.db.close();
    });
  }
}

/**
 * Applies the migrations not yet applied, each in its own transaction, in version order.
 *
 * A migration with `foreignKeysOff` rebuilds a table (SQLite cannot change a CHECK in place): a
 * DROP TABLE with foreign keys on would count every referencing row as a violation, and PRAGMA
 * defer_foreign_keys does not help (COMMIT still fails). PRAGMA foreign_keys is a no-op inside a
 * transaction, so it is turned off before BEGIN; PRAGMA foreign_key_check must find nothing before
 * COMMIT (otherwise the migration rolls back), and the setting is restored whatever happens. This
 * runs synchronously, so nothing else on the connection ever sees foreign keys off.
 */
export function applySqliteMigrations(db: BetterSqlite3.Database, migrations: readonly Migration[]): string[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied: string[] = [];
  const done = db.prepare('SELECT version FROM schema_migrations WHERE version = ?');
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  // In version order, whatever the order of the array.
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    const foreignKeysWere = m.foreignKeysOff ? (db.pragma('foreign_keys', { simple: true }) as bigint | number) : undefined;
    if (m.foreignKeysOff) db.pragma('foreign_keys = OFF');
    try {
      // BEGIN IMMEDIATE: two processes migrating at once serialize on the write lock.
      db.exec('BEGIN IMMEDIATE');
      try {
        if (done.get(m.version) === undefined) {
          db.exec(m.sql);
          if (m.foreignKeysOff) assertNoForeignKeyViolation(db, `${m.version}_${m.name}`);
          record.run(m.version, m.name, Date.now());
          applied.push(`${m.version}_${m.name}`);
        }
        db.exec('COMMIT');
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      if (foreignKeysWere !== undefined) db.pragma(`foreign_keys = ${Number(foreignKeysWere) === 1 ? 'ON' : 'OFF'}`);
    }
  }
  return applied;
}

/** PRAGMA foreign_key_check over the whole database: any row pointing nowhere fails the migration. */
function assertNoForeignKeyViolation(db: BetterSqlite3.Database, migration: string): void {
  const violations = db.prepare('PRAGMA foreign_key_check').all() as Array<{ table: string; rowid: bigint | null; parent: string }>;
  if (violations.length === 0) return;
  const first = violations[0] as (typeof violations)[number];
  throw new Error(
    `migration ${migration} would leave ${violations.length} row(s) with a broken foreign key (first: ${first.table} rowid ${String(first.rowid)} → ${first.parent})`,
  );
}

export async function openSqlite(file: string): Promise<Database> {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = new BetterSqlite3(file);
  db.defaultSafeIntegers(true); // integers as bigint: no silent precision loss on amounts
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL'); // an acknowledged commit survives a power cut
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000'); // the CLI and the server share the file
  db.pragma('secure_delete = ON'); // erased personal data is overwritten, not left in free pages
  return new SqliteDatabase(db);
}
