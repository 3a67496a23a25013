// Encrypted backups of the embedded engine. Backup: a consistent online snapshot with VACUUM INTO
// on a separate read-only connection (the server keeps running; the copy has no free pages, so no
// leftovers of erased rows), encrypted under a key derived from the master key, written 0600.
// Restore: decrypt and authenticate the whole file, check it is a sound vaultgate database, then
// move it into place. PostgreSQL uses its own tools (README, "Data protection").
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { MasterKey } from '../crypto/master-key.js';
import { BackupError, decryptFile, encryptFile } from './backup-file.js';

export { BackupError };

export interface BackupReport {
  file: string;
  bytes: number;
  database_bytes: number;
  format_version: number;
}

/** A private scratch directory (0700) next to `near`, removed afterwards whatever happens. */
function withScratch<T>(near: string, fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(path.dirname(near), '.vaultgate-backup-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function backupSqlite(dbPath: string, outFile: string, master: MasterKey): BackupReport {
  if (!existsSync(dbPath)) throw new BackupError(`no database at ${dbPath}`);
  if (existsSync(outFile)) throw new BackupError(`${outFile} exists; choose a new file name`);
  const out = path.resolve(outFile);
  return withScratch(out, (dir) => {
    const snapshot = path.join(dir, 'snapshot.db');
    const source = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
    try {
      source.pragma('busy_timeout = 5000');
      // One read transaction: the copy is the database as of one commit, whatever the server writes meanwhile.
      source.prepare('VACUUM INTO ?').run(snapshot);
    } finally {
      source.close();
    }
    const partial = `${out}.partial`;
    const fd = openSync(partial, 'wx', 0o600);
    try {
      encryptFile(master.derive('backup'), snapshot, fd);
    } catch (err) {
      closeSync(fd);
      rmSync(partial, { force: true });
      throw err;
    }
    closeSync(fd);
    renameSync(partial, out); // never a half-written backup under the final name
    return { file: out, bytes: statSync(out).size, database_bytes: statSync(snapshot).size, format_version: 1 };
  });
}

export interface RestoreReport {
  database: string;
  replaced: boolean;
  bytes: number;
}

export function restoreSqlite(inFile: string, dbPath: string, master: MasterKey, options: { force: boolean }): RestoreReport {
  if (!existsSync(inFile)) throw new BackupError(`no backup file at ${inFile}`);
  const exists = existsSync(dbPath);
  if (exists && !options.force) {
    throw new BackupError(`a database exists at ${dbPath}; stop the server and pass --force to replace it`);
  }
  mkdirSync(path.dirname(dbPath), { recursive: true, mode: 0o700 });
  return withScratch(dbPath, (dir) => {
    const restored = path.join(dir, 'restored.db');
    const fd = openSync(restored, 'wx', 0o600);
    try {
      decryptFile(master.derive('backup'), inFile, fd);
    } finally {
      closeSync(fd);
    }
    const check = new BetterSqlite3(restored, { readonly: true, fileMustExist: true });
    try {
      const ok = check.pragma('integrity_check', { simple: true });
      const migrated = check.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
      if (ok !== 'ok' || !migrated) throw new BackupError('the backup does not hold a sound vaultgate database');
    } finally {
      check.close();
    }
    // A stale WAL of the replaced database would be replayed over the restored file: remove it.
    for (const suffix of ['-wal', '-shm', '-journal']) rmSync(`${dbPath}${suffix}`, { force: true });
    renameSync(restored, dbPath);
    return { database: dbPath, replaced: exists, bytes: statSync(dbPath).size };
  });
}
