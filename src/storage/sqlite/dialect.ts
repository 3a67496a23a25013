// The SQLite side of ../dialect.ts.
import { assertConstantFragments, type Dialect } from '../dialect.js';

export const SQLITE_DIALECT: Dialect = {
  engine: 'sqlite',
  int: 'INTEGER',
  // AUTOINCREMENT: never reuse the seq of a deleted row (plain INTEGER PRIMARY KEY may).
  serialPrimaryKey: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  nowMillis: "CAST(strftime('%s', 'now') AS INTEGER) * 1000",
  // SQLite has no UPDATE OR DELETE trigger, and its triggers are always FOR EACH ROW.
  appendOnly(table, message) {
    assertConstantFragments(table, message);
    return [
      `CREATE TRIGGER ${table}_no_update BEFORE UPDATE ON ${table} BEGIN SELECT RAISE(ABORT, '${message}'); END;`,
      `CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table} BEGIN SELECT RAISE(ABORT, '${message}'); END;`,
    ].join('\n');
  },
  notifyStandingChanges: "-- another process's commit shows in PRAGMA data_version\n",
  // The 12-step rebuild (https://www.sqlite.org/lang_altertable.html#otheralter), steps 4-8: a new
  // table (migration 1's transfers, the kind CHECK widened, reversal_of last as PostgreSQL's ADD
  // COLUMN puts it), every row copied, the old table dropped and the new one renamed into its
  // place. The new table is renamed, never the old one: renaming the old table would rewrite the
  // REFERENCES of entries and holds to follow it. The indexes of migration 1 are recreated as they
  // were (transfers has no triggers and no view reads it). Foreign keys are off (the migration's
  // foreignKeysOff): the runner runs PRAGMA foreign_key_check before COMMIT.
  transferReversals: `
CREATE TABLE transfers_new (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  kind TEXT NOT NULL CHECK (kind IN ('transfer', 'deposit', 'reversal')),
  source_account_id TEXT NOT NULL REFERENCES accounts(id),
  destination_account_id TEXT NOT NULL REFERENCES accounts(id),
  amount INTEGER NOT NULL CHECK (amount > 0),
  currency TEXT NOT NULL,
  description TEXT,
  reference TEXT,
  metadata TEXT,
  status TEXT NOT NULL,
  client_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  reversal_of TEXT REFERENCES transfers(id),
  CONSTRAINT transfers_reversal_link CHECK ((kind = 'reversal') = (reversal_of IS NOT NULL))
);
INSERT INTO transfers_new (id, tenant_id, kind, source_account_id, destination_account_id, amount, currency, description,
                           reference, metadata, status, client_id, created_at, reversal_of)
  SELECT id, tenant_id, kind, source_account_id, destination_account_id, amount, currency, description,
         reference, metadata, status, client_id, created_at, NULL
  FROM transfers;
DROP TABLE transfers;
ALTER TABLE transfers_new RENAME TO transfers;
CREATE INDEX transfers_source ON transfers(source_account_id, id);
CREATE INDEX transfers_destination ON transfers(destination_account_id, id);
CREATE INDEX transfers_tenant ON transfers(tenant_id, id);
`,
};
