import type { DatabaseConfig } from '../config.js';
import type { Database } from './types.js';
import { openSqlite } from './sqlite/sqlite-database.js';
import { openPostgres } from './postgres/postgres-database.js';

export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  return config.engine === 'sqlite' ? openSqlite(config.path) : openPostgres(config.url, { max: config.poolMax });
}
