// `vaultgate backup --out FILE` and `vaultgate restore --in FILE [--force]` for the embedded engine.
import { BackupError, backupSqlite, restoreSqlite } from '../backup/sqlite-backup.js';
import { loadConfig } from '../config.js';
import { openMasterKey } from '../crypto/master-key.js';
import { SPECS } from './commands.js';
import { CliError, print, type CommandContext } from './context.js';
import { parseOptions } from './options.js';

const POSTGRES = 'DATABASE_URL is PostgreSQL: use pg_dump/pg_restore or pgBackRest with repository encryption (README, "Data protection")';

function run<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BackupError) throw new CliError(err.message);
    throw err;
  }
}

export async function backupCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseOptions(SPECS.backup, args);
  if (!values.out) throw new CliError('backup: --out FILE is required');
  const config = loadConfig();
  if (config.database.engine !== 'sqlite') throw new CliError(POSTGRES);
  const master = openMasterKey(config, { create: false });
  const dbPath = config.database.path;
  const out = values.out;
  const report = run(() => backupSqlite(dbPath, out, master));
  print(ctx, report, `backup written to ${report.file} (${report.bytes} bytes, AES-256-GCM, format v${report.format_version}, mode 0600)`);
  return 0;
}

export async function restoreCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseOptions(SPECS.restore, args);
  if (!values.in) throw new CliError('restore: --in FILE is required');
  const config = loadConfig();
  if (config.database.engine !== 'sqlite') throw new CliError(POSTGRES);
  const master = openMasterKey(config, { create: false });
  const dbPath = config.database.path;
  const inFile = values.in;
  const report = run(() => restoreSqlite(inFile, dbPath, master, { force: values.force === true }));
  print(ctx, report, `restored ${report.database}${report.replaced ? ' (replaced the previous database)' : ''}`);
  return 0;
}
