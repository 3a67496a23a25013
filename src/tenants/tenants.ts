// Tenants are created on first use (by the first client or user registered in them), always inside
// the caller's transaction, so a tenant never exists without the row that needed it.
import { AppError } from '../errors.js';
import { newId } from '../lib/ids.js';
import type { Sql } from '../storage/types.js';
import { isTenantName, TENANT_NAME_RULE } from './tenant-name.js';

/**
 * The id of the tenant named `name`, created if new. Idempotent under concurrency: the unique
 * constraint on `tenants.name` decides, ON CONFLICT DO NOTHING keeps the loser's transaction
 * alive, and the SELECT then reads the winner's row (PostgreSQL: the INSERT waited for the winner
 * to commit, and READ COMMITTED reads it; SQLite: write transactions run one at a time).
 */
export async function ensureTenant(tx: Sql, name: string): Promise<string> {
  // The callers' validators apply the rule already; this keeps a bad name out of the table for good.
  if (!isTenantName(name)) throw new AppError('validation_failed', `tenant: must be a tenant name (${TENANT_NAME_RULE})`);
  await tx.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [
    newId('ten'),
    name,
    Date.now(),
  ]);
  const row = await tx.one<{ id: string }>('SELECT id FROM tenants WHERE name = $1', [name]);
  if (!row) throw new Error('tenant row missing after insert');
  return row.id;
}

/** The id of an existing tenant, or undefined (never creates one). */
export async function findTenant(tx: Sql, name: string): Promise<string | undefined> {
  if (!isTenantName(name)) return undefined;
  return (await tx.one<{ id: string }>('SELECT id FROM tenants WHERE name = $1', [name]))?.id;
}
