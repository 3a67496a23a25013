// Personal data at rest: encrypted per customer, bound to record and field, erasable (issue 2).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DecryptionError } from '../../src/crypto/aead.js';
import { createDataKeys } from '../../src/crypto/data-keys.js';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { createCustomers } from '../../src/customers/customer-service.js';
import { describeEngines } from '../support/databases.js';
import { startTestServer, type TestServer } from './harness.js';

const PERSON = {
  full_name: 'Zebulon Quartermaine',
  email: 'zebulon.quartermaine@example.org',
  phone: '+33612345678',
  date_of_birth: '1985-04-12',
  national_id: 'FR7734998812',
  address: { line1: '17 Rue Oberkampf', city: 'Lutetia', postal_code: '75011', country: 'FR' },
};
const SECRET_VALUES = [
  'Zebulon',
  'Quartermaine',
  'zebulon.quartermaine',
  'FR7734998812',
  '7734998812',
  'Oberkampf',
  '+33612345678',
  '1985-04-12',
];

describeEngines('personal data at rest', (engine) => {
  let s: TestServer;
  let token: string;
  let tenantId: string;
  let customerId: string;

  beforeAll(async () => {
    s = await startTestServer(engine);
    ({ token, tenantId } = await s.newClient('acme'));
    const res = await s.http.call('/v1/customers', { token, body: PERSON });
    expect(res.status).toBe(201);
    customerId = res.body.id;
  });
  afterAll(async () => s?.close());

  // @control OWASP-API3
  it('returns the personal fields, national_id only as its last four characters', async () => {
    const res = await s.http.call(`/v1/customers/${customerId}`, { token });
    const { national_id: _omit, ...rest } = PERSON;
    expect(res.body).toMatchObject({ ...rest, national_id_last4: '8812', status: 'active' });
    expect(res.body).not.toHaveProperty('national_id');
  });

  // @control PCI-3.5.1
  it('stores no personal value in plaintext in the database', async () => {
    const rows = await s.database.db.query('SELECT * FROM customers');
    const dump = JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    for (const value of SECRET_VALUES) expect(dump).not.toContain(value);
    if (engine === 'sqlite') {
      const dir = path.dirname(s.database.url.slice('sqlite:'.length));
      const files = readdirSync(dir).map((f) => path.join(dir, f));
      expect(files.some((f) => f.endsWith('-wal'))).toBe(true);
      for (const file of files) {
        const bytes = readFileSync(file);
        for (const value of SECRET_VALUES) expect(bytes.includes(Buffer.from(value)), `${value} in ${path.basename(file)}`).toBe(false);
      }
    }
  });

  // @control PCI-3.5.1
  it('refuses a ciphertext moved to another field or another customer (authenticated data)', async () => {
    const other = await s.http.call('/v1/customers', { token, body: { full_name: 'Other Person', email: 'other@example.org' } });
    const master = loadMasterKey(path.join(s.dataDir, 'master.key'), { create: false });
    const customers = createCustomers({ db: s.database.db, dataKeys: createDataKeys(master), master });
    const db = s.database.db;
    const row = await db.one<{ full_name: string; email: string }>('SELECT full_name, email FROM customers WHERE id = $1', [customerId]);
    // Field swap inside one record.
    await db.run('UPDATE customers SET email = $1 WHERE id = $2', [row?.full_name ?? '', customerId]);
    await expect(customers.get(tenantId, customerId)).rejects.toBeInstanceOf(DecryptionError);
    await db.run('UPDATE customers SET email = $1 WHERE id = $2', [row?.email ?? '', customerId]);
    await expect(customers.get(tenantId, customerId)).resolves.toMatchObject({ email: PERSON.email });
    // Copy into another customer's row.
    await db.run('UPDATE customers SET full_name = $1 WHERE id = $2', [row?.full_name ?? '', other.body.id]);
    await expect(customers.get(tenantId, other.body.id)).rejects.toBeInstanceOf(DecryptionError);
    const res = await s.http.call(`/v1/customers/${other.body.id}`, { token });
    expect(res.status).toBe(500);
    expect(res.body.code).toBe('internal_error');
    expect(res.text).not.toMatch(/decrypt|aes|gcm/i);
  });

  it('finds customers by e-mail through the blind index (exact match, case-insensitive)', async () => {
    const hit = await s.http.call(`/v1/customers?email=${encodeURIComponent('ZEBULON.quartermaine@example.org')}`, { token });
    expect(hit.body.data.map((c: { id: string }) => c.id)).toEqual([customerId]);
    const miss = await s.http.call('/v1/customers?email=zebulon@example.org', { token });
    expect(miss.body.data).toEqual([]);
  });

  it('erases a customer: personal data unrecoverable, ledger kept and balanced', async () => {
    const cus = await s.http.call('/v1/customers', { token, body: { full_name: 'Erik Erasable', email: 'erik@example.org' } });
    const acc = await s.http.call('/v1/accounts', { token, body: { customer_id: cus.body.id, currency: 'EUR' } });
    await s.http.call('/v1/deposits', {
      token,
      headers: { 'idempotency-key': 'erase-dep' },
      body: { account_id: acc.body.id, amount: 500, currency: 'EUR', reference: 'r' },
    });
    const dk = await s.database.db.one<{ data_key_id: string }>('SELECT data_key_id FROM customers WHERE id = $1', [cus.body.id]);
    const erased = await s.http.call(`/v1/customers/${cus.body.id}`, { method: 'DELETE', token });
    expect(erased.status).toBe(200);
    expect(erased.body).toMatchObject({ id: cus.body.id, status: 'erased', full_name: null, email: null });
    const key = await s.database.db.one<{ wrapped: string | null }>('SELECT wrapped FROM data_keys WHERE id = $1', [dk?.data_key_id ?? '']);
    expect(key?.wrapped).toBeNull();
    const found = await s.http.call('/v1/customers?email=erik@example.org', { token });
    expect(found.body.data).toEqual([]);
    const account = await s.http.call(`/v1/accounts/${acc.body.id}`, { token });
    expect(account.body.balance.available).toBe(500);
    const sums = await s.database.db.query<{ total: bigint }>('SELECT SUM(amount) AS total FROM entries GROUP BY tenant_id, currency');
    for (const r of sums) expect(BigInt(r.total)).toBe(0n);
    const reopen = await s.http.call('/v1/accounts', { token, body: { customer_id: cus.body.id, currency: 'EUR' } });
    expect(reopen.status).toBe(422);
    expect(reopen.body.code).toBe('customer_erased');
  });
});
