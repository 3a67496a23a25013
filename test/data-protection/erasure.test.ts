// Erasure: after DELETE, no personal value of the customer can be decrypted or found in the
// database files (SQLite main file and WAL), the ledger stays balanced, the erasure is recorded,
// and a KEK rotation afterwards leaves a wrapped key kept elsewhere (an older backup) with no live
// KEK to open it.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DecryptionError, open } from '../../src/crypto/aead.js';
import { createDataKeys } from '../../src/crypto/data-keys.js';
import { rotateKek } from '../../src/crypto/key-rotation.js';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { describeEngines } from '../support/databases.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { assertLedgerBalanced } from './support.js';

const PERSON = {
  full_name: 'Ottoline Wraxworthy',
  email: 'ottoline.wraxworthy@example.net',
  phone: '+441632960777',
  date_of_birth: '1979-11-03',
  national_id: 'QQ123456C',
  address: { line1: '9 Quillfeather Lane', city: 'Brambleton', postal_code: 'BR1 9QQ', country: 'GB' },
};

describeEngines('erasure (crypto-shredding)', (engine) => {
  let s: TestServer;
  let token: string;
  let customerId: string;
  let accountId: string;
  let before: { row: Record<string, string | null>; dataKeyId: string; wrapped: string; kekVersion: number };

  beforeAll(async () => {
    s = await startTestServer(engine);
    ({ token } = await s.newClient('erasure'));
    const cus = await s.http.call('/v1/customers', { token, body: PERSON });
    customerId = cus.body.id;
    const other = await s.http.call('/v1/customers', { token, body: { full_name: 'Kept Person', email: 'kept@example.net' } });
    const acc = await s.http.call('/v1/accounts', { token, body: { customer_id: customerId, currency: 'GBP' } });
    const acc2 = await s.http.call('/v1/accounts', { token, body: { customer_id: other.body.id, currency: 'GBP' } });
    accountId = acc.body.id;
    await s.http.call('/v1/deposits', {
      token,
      headers: { 'idempotency-key': 'er-1' },
      body: { account_id: accountId, amount: 900, currency: 'GBP', reference: 'r' },
    });
    const t = await s.http.call('/v1/transfers', {
      token,
      headers: { 'idempotency-key': 'er-2' },
      body: { source_account_id: accountId, destination_account_id: acc2.body.id, amount: 300, currency: 'GBP' },
    });
    expect(t.status).toBe(201);
    // What an older backup would hold: the sealed fields, the wrapped data key and its KEK version.
    const row = await s.database.db.one<Record<string, string | null> & { data_key_id: string }>('SELECT * FROM customers WHERE id = $1', [
      customerId,
    ]);
    const dk = await s.database.db.one<{ wrapped: string; kek_version: bigint }>(
      'SELECT wrapped, kek_version FROM data_keys WHERE id = $1',
      [row!.data_key_id],
    );
    before = { row: row!, dataKeyId: row!.data_key_id, wrapped: dk!.wrapped, kekVersion: Number(dk!.kek_version) };
  });
  afterAll(async () => s?.close());

  it('DELETE erases: the customer reads as erased and the e-mail no longer finds it', async () => {
    const res = await s.http.call(`/v1/customers/${customerId}`, { method: 'DELETE', token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'erased', full_name: null, email: null, phone: null, address: null, national_id_last4: null });
    expect((await s.http.call(`/v1/customers/${customerId}`, { token })).body.status).toBe('erased');
    expect((await s.http.call(`/v1/customers?email=${encodeURIComponent(PERSON.email)}`, { token })).body.data).toEqual([]);
  });

  it('leaves nothing that decrypts: the data key is destroyed and the columns are blank', async () => {
    const dk = await s.database.db.one<{ wrapped: string | null; destroyed_at: bigint | null }>(
      'SELECT wrapped, destroyed_at FROM data_keys WHERE id = $1',
      [before.dataKeyId],
    );
    expect(dk?.wrapped).toBeNull();
    expect(dk?.destroyed_at).not.toBeNull();
    const row = await s.database.db.one<Record<string, unknown>>('SELECT * FROM customers WHERE id = $1', [customerId]);
    for (const f of ['full_name', 'email', 'email_index', 'phone', 'date_of_birth', 'national_id', 'national_id_last4', 'address'])
      expect(row?.[f], f).toBeNull();
    const master = loadMasterKey(path.join(s.dataDir, 'master.key'), { create: false });
    await expect(createDataKeys(master).get(s.database.db, before.dataKeyId)).resolves.toBeUndefined();
  });

  it.runIf(engine === 'sqlite')('no personal value or its ciphertext is left in the database files (main file and WAL)', () => {
    const dir = path.dirname(s.database.url.slice('sqlite:'.length));
    const needles = [
      ...Object.values(PERSON).filter((v): v is string => typeof v === 'string'),
      'Quillfeather',
      ...Object.entries(before.row)
        .filter(([k, v]) => typeof v === 'string' && v.startsWith('g1.') && k !== 'id')
        .map(([, v]) => v as string),
      before.wrapped,
    ];
    const files = readdirSync(dir).map((f) => path.join(dir, f));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const n of needles) expect(bytes.includes(Buffer.from(n)), `${n.slice(0, 24)}… in ${path.basename(file)}`).toBe(false);
    }
  });

  it('keeps the ledger balanced and the erased customer’s accounts and history', async () => {
    await assertLedgerBalanced(s.database.db, expect);
    const acc = await s.http.call(`/v1/accounts/${accountId}`, { token });
    expect(acc.body.balance.available).toBe(600);
    const entries = await s.http.call(`/v1/accounts/${accountId}/entries`, { token });
    expect(entries.body.data).toHaveLength(2);
  });

  it('after a rotation, the wrapped key an older backup holds has no live KEK left', async () => {
    const master = loadMasterKey(path.join(s.dataDir, 'master.key'), { create: false });
    const dataKeys = createDataKeys(master, { engine });
    // While its version is live, the old wrapped key would still open (this is what rotation ends).
    const kek = await dataKeys.ring.get(s.database.db, before.kekVersion);
    expect(kek).toBeDefined();
    expect(open(kek!, before.wrapped, `data_keys:${before.dataKeyId}:kek-v${before.kekVersion}`)).toHaveLength(32);
    const report = await rotateKek(s.database.db, dataKeys);
    expect(report.retired_versions).toContain(before.kekVersion);
    expect(await createDataKeys(master).ring.get(s.database.db, before.kekVersion)).toBeUndefined();
    expect(() => open(Buffer.alloc(32), before.wrapped, `data_keys:${before.dataKeyId}:kek-v${before.kekVersion}`)).toThrow(
      DecryptionError,
    );
  });
});
