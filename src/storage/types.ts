// The Store seam: every capability talks SQL through this small interface, and one adapter per
// engine (SQLite embedded, PostgreSQL for several nodes) implements it. SQL is written once with
// $1..$n placeholders and values are always bound, never concatenated.
//
// Value conventions, identical on both engines: integer columns come back as `bigint`, text as
// string, NULL as null. Times are BIGINT milliseconds since the epoch.

import type { ChangeFeed } from './change-feed.js';

export type { ChangeFeed };

export type SqlValue = string | number | bigint | boolean | null | Buffer;
export type Row = Record<string, unknown>;

export interface Sql {
  /** All rows. */
  query<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row, or undefined. */
  one<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Runs a statement; returns the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /**
   * Only on a PostgreSQL transaction's handle: fn runs once the transaction has committed (never
   * after a rollback), with its connection already released, and transaction() resolves after fn
   * settles (fn's failure is fn's to report: it does not fail the committed transaction).
   */
  afterCommit?(fn: () => Promise<unknown>): void;
}

export type Engine = 'sqlite' | 'postgres';

export interface Database extends Sql {
  readonly engine: Engine;
  /**
   * `FOR UPDATE` on PostgreSQL (row lock), empty on SQLite, whose write transactions already
   * hold the database's single write lock (BEGIN IMMEDIATE).
   */
  readonly forUpdate: string;
  /**
   * `FOR UPDATE SKIP LOCKED` on PostgreSQL: a worker on one node takes rows no other node's worker
   * is taking. Empty on SQLite (one writer at a time anyway).
   */
  readonly forUpdateSkipLocked: string;
  /**
   * Runs fn in one transaction: commit when it resolves, roll back when it throws. On PostgreSQL
   * a serialization failure or deadlock is retried a few times. fn must only touch the database
   * through `tx` and must not wait on anything else (it may be run again).
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * What a token's standing depends on (clients, revoked tokens, grants, users) changed: the
   * version a standing cache keys on. Code that changes those tables calls changed() after its
   * commit; other processes' changes are heard through the engine (see change-feed.ts).
   */
  readonly standingChanges: ChangeFeed;
  migrate(): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface TransactionOptions {
  /**
   * false: the commit may return before it is flushed to disk. Only for writes whose loss in a
   * power cut is harmless, such as a claim that precedes the real work: the log is sequential, so
   * the next durable commit flushes these writes too, and nothing durable can depend on a lost one.
   */
  durable?: boolean;
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /**
   * SQLite only: run with foreign keys off (a table rebuild, the only way SQLite changes a CHECK),
   * then checked with PRAGMA foreign_key_check before COMMIT. See applySqliteMigrations.
   */
  foreignKeysOff?: true;
}

/** Unique-constraint violations look different per engine; callers ask this. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string } | null;
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
