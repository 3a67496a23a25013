// What really differs between the engines' migration SQL. Every field is a fixed fragment chosen
// here, never text from outside; ./migrations.ts is written once against this.
//
// Differences between the engines that are NOT expressed here, kept on purpose because existing
// databases were created that way (the parity test normalizes them, saying why):
// - `x TEXT PRIMARY KEY` without NOT NULL accepts NULL on SQLite (a documented SQLite legacy
//   quirk); PostgreSQL's PRIMARY KEY implies NOT NULL. Looks like a latent bug on SQLite (the
//   code always supplies ids); fixing it needs a table rebuild in a new migration.
// - `x ${int} PRIMARY KEY` is a rowid alias on SQLite (a NULL insert gets max+1); on PostgreSQL it
//   is a plain BIGINT. Only entries.seq and audit_pending.pending_id are meant to auto-number (serialPrimaryKey); audit_events,
//   audit_checkpoints, audit_chain_head and kek_versions always get their key from the caller.
// - Column type affinity: SQLite (non-STRICT tables) stores whatever it is given; PostgreSQL
//   rejects a wrong type.
// - clients.fapi is a 0/1 flag stored as an integer on both engines, not a BOOLEAN.

export interface Dialect {
  engine: 'sqlite' | 'postgres';
  /** The 64-bit integer column type: SQLite INTEGER is 64-bit, so PostgreSQL needs BIGINT. */
  int: string;
  /** An auto-numbered 64-bit primary key that never reuses a value (a ledger sequence). */
  serialPrimaryKey: string;
  /** Now, in epoch milliseconds, as a 64-bit integer (SQLite's has only second precision). */
  nowMillis: string;
  /**
   * Statements that make a table refuse UPDATE and DELETE with `message`. The trigger names differ
   * per engine (SQLite: <table>_no_update and <table>_no_delete; PostgreSQL: one
   * <table>_no_change trigger and a <table>_immutable() function) and are kept as they are.
   */
  appendOnly: (table: string, message: string) => string;
  /**
   * Statements that announce a change to what a token's standing depends on to every other
   * process (src/storage/change-feed.ts). PostgreSQL: triggers that NOTIFY, heard by each node's
   * listener. SQLite: nothing; another process's commit shows in PRAGMA data_version.
   */
  notifyStandingChanges: string;
  /**
   * Statements that let transfers record reversals (docs/contract.md §9, migration 16): `kind` may
   * be 'reversal', and a nullable `reversal_of` column (the last one) references the original
   * transfer, with a CHECK that a reversal has one and nothing else does. PostgreSQL changes the
   * table in place. SQLite cannot change a CHECK: it rebuilds the table
   * (https://www.sqlite.org/lang_altertable.html#otheralter), which is why migration 16 runs with
   * foreign keys off (`foreignKeysOff`), and recreates the table's indexes (it has no triggers).
   */
  transferReversals: string;
}

/** appendOnly() interpolates its arguments: they must be constants from the migration source. */
export function assertConstantFragments(table: string, message: string): void {
  if (!/^[a-z_]+$/.test(table) || !/^[a-z ]+$/.test(message)) {
    throw new Error(`appendOnly(): not a plain identifier/message: ${table} / ${message}`);
  }
}
