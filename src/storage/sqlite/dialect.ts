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
};
