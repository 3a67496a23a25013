// Reversals are money going back (src/ledger/reversals.ts): the velocity rules and the maximum for
// one movement are not applied to them, while they still hold for every transfer. On both engines,
// with a configuration where either rule would refuse the reversal.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeEngines } from '../support/databases.js';

describeEngines('reversals under velocity rules and money limits', (engine) => {
  let s: TestServer;
  let client: Awaited<ReturnType<TestServer['newClient']>>;
  const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-reversals-'));

  beforeAll(async () => {
    const config = path.join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
rate_limits:
  velocity:
    - { scope: account, currency: EUR, max_transfers_per_minute: 1 }
money_limits:
  max_transfer: 1000
  max_deposit: 100000
`,
    );
    s = await startTestServer(engine, { VAULTGATE_CONFIG: config });
    client = await s.newClient('acme');
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const key = () => ({ 'idempotency-key': `k-${randomUUID()}` });
  async function openAccount() {
    const cus = await s.http.call('/v1/customers', {
      token: client.token,
      body: { full_name: 'Lin', email: `l${randomUUID()}@example.com` },
    });
    return (await s.http.call('/v1/accounts', { token: client.token, body: { customer_id: cus.body.id, currency: 'EUR' } })).body
      .id as string;
  }
  const transfer = (source: string, destination: string, amount: number) =>
    s.http.call('/v1/transfers', {
      token: client.token,
      headers: key(),
      body: { source_account_id: source, destination_account_id: destination, amount, currency: 'EUR' },
    });
  const reverse = (id: string, body: Record<string, unknown>) =>
    s.http.call(`/v1/transfers/${id}/reversals`, { token: client.token, headers: key(), body });
  const available = async (id: string) => (await s.http.call(`/v1/accounts/${id}`, { token: client.token })).body.balance.available;

  it('a reversal out of an account that used up its velocity passes; a transfer out of it is refused', async () => {
    const [a, b, c] = [await openAccount(), await openAccount(), await openAccount()];
    const dep = await s.http.call('/v1/deposits', {
      token: client.token,
      headers: key(),
      body: { account_id: a, amount: 1_000, currency: 'EUR', reference: 'seed' },
    });
    expect(dep.status).toBe(201);
    const original = await transfer(a, b, 1_000);
    expect(original.status).toBe(201);
    // B's one transfer of the minute.
    expect((await transfer(b, c, 100)).status).toBe(201);
    const refused = await transfer(b, c, 100);
    expect([refused.status, refused.body.code]).toEqual([422, 'velocity_limit_exceeded']);
    // The reversal debits B too: not a transfer, not limited.
    const res = await reverse(original.body.id, { amount: 900, reason: 'refund' });
    expect([res.status, res.body.amount]).toEqual([201, 900]);
    expect([await available(a), await available(b), await available(c)]).toEqual([900, 0, 100]);
  });

  it('a deposit above the transfer maximum is reversed in one go; a transfer of that amount is refused', async () => {
    const [a, b] = [await openAccount(), await openAccount()];
    const dep = await s.http.call('/v1/deposits', {
      token: client.token,
      headers: key(),
      body: { account_id: a, amount: 50_000, currency: 'EUR', reference: 'seed' },
    });
    expect(dep.status).toBe(201);
    const tooBig = await transfer(a, b, 5_000);
    expect([tooBig.status, tooBig.body.code]).toEqual([422, 'amount_above_maximum']);
    // A used its one transfer of the minute as well: both rules would refuse a transfer now.
    expect((await transfer(a, b, 10)).status).toBe(201);
    const res = await reverse(dep.body.id, { amount: 49_990, reason: 'deposit bounced' });
    expect([res.status, res.body.amount]).toEqual([201, 49_990]);
    expect([await available(a), await available(b)]).toEqual([0, 10]);
  });
});
