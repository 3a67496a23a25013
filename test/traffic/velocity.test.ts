// Velocity rules are atomic with the posting: concurrent transfers never exceed them, per account
// and per tenant, on both engines.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeEngines } from '../support/databases.js';
import { count, deposit, openAccount, transfer, writeConfig } from './support.js';

describeEngines('velocity limits', (engine) => {
  let s: TestServer;
  let client: Awaited<ReturnType<TestServer['newClient']>>;
  beforeAll(async () => {
    s = await startTestServer(engine, {
      VAULTGATE_CONFIG: writeConfig(`
rate_limits:
  velocity:
    - { scope: account, currency: EUR, max_transfers_per_minute: 5 }
    - { scope: tenant, currency: EUR, max_amount_per_hour: 700, max_amount_per_day: 100000 }
    - { scope: account, currency: USD, max_amount_per_day: 1 }
`),
    });
    client = await s.newClient('acme');
  });
  afterAll(async () => s?.close());

  // @control OWASP-API6
  it('concurrent transfers never exceed the account and tenant rules', async () => {
    const [a, b, c] = [await openAccount(s, client.token), await openAccount(s, client.token), await openAccount(s, client.token)];
    // Deposits are money in: velocity rules do not apply to them.
    expect((await deposit(s, client.token, a, 10_000)).status).toBe(201);
    expect((await deposit(s, client.token, c, 10_000)).status).toBe(201);

    // Account rule: 5 transfers per minute out of A.
    const fromA = await Promise.all(Array.from({ length: 20 }, () => transfer(s, client.token, a, b, 100)));
    expect(count(fromA, 201)).toBe(5);
    expect(count(fromA, 422)).toBe(15);
    for (const r of fromA.filter((x) => x.status === 422)) expect(r.body.code).toBe('velocity_limit_exceeded');

    // Tenant rule: 700 per hour across the tenant; 500 are used, so 2 more transfers of 100 fit.
    const fromC = await Promise.all(Array.from({ length: 20 }, () => transfer(s, client.token, c, b, 100)));
    expect(count(fromC, 201)).toBe(2);
    expect(count(fromC, 422)).toBe(18);
    expect(fromC.find((r) => r.status === 422)?.body.detail).toMatch(/limit/);

    const rows = await s.database.db.query<{ total: bigint; n: bigint }>(
      "SELECT CAST(SUM(amount) AS BIGINT) AS total, COUNT(*) AS n FROM transfers WHERE kind = 'transfer'",
    );
    expect(rows[0]).toEqual({ total: 700n, n: 7n });
    // Refused transfers moved nothing.
    const balance = (id: string) => s.http.call(`/v1/accounts/${id}`, { token: client.token }).then((r) => r.body.balance.available);
    expect(await balance(a)).toBe(9_500);
    expect(await balance(c)).toBe(9_800);
    expect(await balance(b)).toBe(700);
  });
});
