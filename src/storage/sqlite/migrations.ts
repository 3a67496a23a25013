// The shared migrations (../migrations.ts) as SQLite runs them.
import { renderMigrations } from '../migrations.js';
import type { Migration } from '../types.js';
import { SQLITE_DIALECT } from './dialect.js';

export const SQLITE_MIGRATIONS: readonly Migration[] = renderMigrations(SQLITE_DIALECT);
