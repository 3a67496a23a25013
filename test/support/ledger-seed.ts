// A tenant and one customer written straight into a test database, for tests of the ledger's
// services that need accounts but not the API (the property tests).
import { newId } from '../../src/lib/ids.js';
import type { Database } from '../../src/storage/types.js';

export async function seedTenantCustomer(db: Database, tenantId: string, name: string): Promise<string> {
  const now = Date.now();
  await db.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [tenantId, name, now]);
  const dk = newId('dk');
  await db.run('INSERT INTO data_keys (id, kek_version, wrapped, created_at) VALUES ($1, 1, NULL, $2)', [dk, now]);
  const customer = newId('cus');
  await db.run("INSERT INTO customers (id, tenant_id, data_key_id, status, created_at) VALUES ($1, $2, $3, 'active', $4)", [
    customer,
    tenantId,
    dk,
    now,
  ]);
  return customer;
}
