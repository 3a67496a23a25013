// The shared migrations (../migrations.ts) as PostgreSQL runs them.
import { renderMigrations } from '../migrations.js';
import type { Migration } from '../types.js';
import { POSTGRES_DIALECT } from './dialect.js';

export const POSTGRES_MIGRATIONS: readonly Migration[] = renderMigrations(POSTGRES_DIALECT);
