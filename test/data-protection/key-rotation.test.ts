// KEK rotation online: the CLI rotates in another process while transfers and customer reads run
// against a real server. No request fails, every customer still decrypts, nothing stays wrapped by
// a retired version, and the running server follows without a restart.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDataKeys } from '../../src/crypto/data-keys.js';
import { keyStatus, rotateKek } from '../../src/crypto/key-rotation.js';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { describeEngines, openDatabaseUrl } from '../support/databases.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { assertLedgerBalanced, cli } from './support.js';

const CUSTOMERS = 40;

describeEngines('KEK rotation while traffic runs', (engine) => {
  let s: TestServer;
  let token: string;
  const customers: Array<{ id: string; full_name: string }> = [];
  let source: string;
  let destination: string;

  beforeAll(async () => {
    s = await startTestServer(engine);
    ({ token } = await s.newClient('rotation'));
    for (let i = 0; i < CUSTOMERS; i++) {
      const full_name = `Rotation Person ${i}`;
      const res = await s.http.call('/v1/customers', {
        token,
        body: { full_name, email: `p${i}@example.org`, national_id: `ID-${1000 + i}` },
      });
      expect(res.status).toBe(201);
      customers.push({ id: res.body.id, full_name });
    }
    const a = await s.http.call('/v1/accounts', { token, body: { customer_id: customers[0]!.id, currency: 'EUR' } });
    const b = await s.http.call('/v1/accounts', { token, body: { customer_id: customers[1]!.id, currency: 'EUR' } });
    source = a.body.id;
    destination = b.body.id;
    const dep = await s.http.call('/v1/deposits', {
      token,
      headers: { 'idempotency-key': 'rot-dep' },
      body: { account_id: source, amount: 1_000_000, currency: 'EUR', reference: 'seed' },
    });
    expect(dep.status).toBe(201);
  });
  afterAll(async () => s?.close());

  /** Transfers, reads and new customers in a loop until `until` settles; returns every failure. */
  async function traffic<T>(until: Promise<T>): Promise<{ result: T; failures: string[]; requests: number }> {
    let done = false;
    const failures: string[] = [];
    let requests = 0;
    let n = 0;
    const worker = async (kind: number) => {
      while (!done) {
        const i = n++;
        const res =
          kind === 0
            ? await s.http.call('/v1/transfers', {
                token,
                headers: { 'idempotency-key': `rot-${engine}-${i}-${Math.random()}` },
                body: { source_account_id: source, destination_account_id: destination, amount: 1, currency: 'EUR' },
              })
            : kind === 1
              ? await s.http.call(`/v1/customers/${customers[i % customers.length]!.id}`, { token })
              : await s.http.call('/v1/customers', { token, body: { full_name: `During ${i}`, email: `during${i}@example.org` } });
        requests++;
        if (res.status >= 300) failures.push(`${kind}:${res.status}:${res.body?.code}`);
        if (kind === 1 && res.body?.full_name !== customers[i % customers.length]!.full_name) failures.push(`read ${i}: wrong value`);
      }
    };
    const workers = [worker(0), worker(1), worker(1), worker(2)];
    try {
      const result = await until;
      return { result, failures, requests };
    } finally {
      done = true;
      await Promise.all(workers);
    }
  }

  it('rotates through the CLI in another process with no failed request', async () => {
    const { result, failures, requests } = await traffic(cli(['keys', 'rotate', '--json', '--batch-size', '10'], s.env));
    expect(result.stderr).not.toMatch(/vaultgate:/);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ new_version: 2, retired_versions: [1] });
    expect(report.rewrapped).toBeGreaterThanOrEqual(CUSTOMERS);
    console.log(
      `[${engine}] rotation v1→v2: ${report.rewrapped} data keys in ${report.batches} batches, ${report.duration_ms} ms, ${requests} requests meanwhile`,
    );
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(0);

    const status = await cli(['keys', 'status', '--json'], s.env);
    expect(status.code).toBe(0);
    const st = JSON.parse(status.stdout);
    expect(st.active_version).toBe(2);
    expect(st.versions.find((v: { version: number }) => v.version === 1)).toMatchObject({ status: 'retired', data_keys: 0 });
    const left = await s.database.db.one<{ n: bigint }>(
      'SELECT COUNT(*) AS n FROM data_keys WHERE wrapped IS NOT NULL AND kek_version <> 2',
    );
    expect(Number(left?.n)).toBe(0);
  });

  // @control PCI-3.5.1
  it('every customer still decrypts through the running server', async () => {
    for (const c of customers) {
      const res = await s.http.call(`/v1/customers/${c.id}`, { token });
      expect(res.body).toMatchObject({ status: 'active', full_name: c.full_name });
    }
  });

  it('a second rotation (from a random, stored KEK) is followed by the server without a restart', async () => {
    const db = await openDatabaseUrl(s.database.url); // another connection: another "process"
    try {
      const dataKeys = createDataKeys(loadMasterKey(path.join(s.dataDir, 'master.key'), { create: false }), { engine });
      const { result, failures } = await traffic(rotateKek(db, dataKeys, { batchSize: 7 }));
      expect(result).toMatchObject({ new_version: 3, retired_versions: [2] });
      expect(failures).toEqual([]);
      const st = await keyStatus(db, dataKeys);
      expect(st.versions.map((v) => [v.version, v.status])).toEqual([
        [1, 'retired'],
        [2, 'retired'],
        [3, 'active'],
      ]);
      expect(st.versions.filter((v) => v.status === 'retired').every((v) => v.data_keys === 0)).toBe(true);
      // A retired version's material is gone from the database.
      const retired = await db.query<{ wrapped: string | null }>("SELECT wrapped FROM kek_versions WHERE status = 'retired'");
      expect(retired.every((r) => r.wrapped === null)).toBe(true);
      expect(await dataKeys.ring.get(db, 2)).toBeUndefined();
    } finally {
      await db.close();
    }
    for (const c of customers) {
      const res = await s.http.call(`/v1/customers/${c.id}`, { token });
      expect(res.body).toMatchObject({ status: 'active', full_name: c.full_name });
    }
    await assertLedgerBalanced(s.database.db, expect);
  });

  it('never writes key material to the log', () => {
    const master = readFileSync(path.join(s.dataDir, 'master.key'), 'utf8').trim();
    const text = s.logs.join('\n');
    expect(text).not.toContain(master);
    expect(text).not.toMatch(/g1\.[A-Za-z0-9_-]{40,}/); // no sealed value (wrapped key or field) either
  });

  // @control PCI-8.6.2
  it('refuses a second KEK source and a malformed VAULTGATE_MASTER_KEY without echoing it', async () => {
    const both = await cli(['keys', 'status'], {
      ...s.env,
      VAULTGATE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
      VAULTGATE_MASTER_KEY_FILE: path.join(s.dataDir, 'master.key'),
    });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/VAULTGATE_MASTER_KEY: set either/);
    const bad = await cli(['keys', 'status'], { ...s.env, VAULTGATE_MASTER_KEY: 'c2hvcnQtc2VjcmV0LXZhbHVl' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).not.toContain('c2hvcnQtc2VjcmV0LXZhbHVl');
  });
});
