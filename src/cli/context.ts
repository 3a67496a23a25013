import { loadConfig, type Config } from '../config.js';
import { openMasterKey, type MasterKey } from '../crypto/master-key.js';
import { openDatabase } from '../storage/index.js';
import type { Database } from '../storage/types.js';

export interface CommandContext {
  json: boolean;
}

/** A usage or input mistake: one line on stderr, exit code 2. */
export class CliError extends Error {}

export function print(ctx: CommandContext, value: unknown, human: string): void {
  process.stdout.write(ctx.json ? `${JSON.stringify(value)}\n` : `${human}\n`);
}

/** Config, master key and a migrated database: what every data command needs. */
export async function openEnvironment(): Promise<{ config: Readonly<Config>; master: MasterKey; db: Database; issuer: string }> {
  const config = loadConfig();
  const master = openMasterKey(config, { create: true });
  const db = await openDatabase(config.database);
  await db.migrate();
  const issuer = config.publicUrl ?? `${config.insecureHttp ? 'http' : 'https'}://localhost:${config.port}`;
  return { config, master, db, issuer };
}
