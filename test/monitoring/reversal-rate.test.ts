// The reversal-rate rule end to end (issue 14, item 6): reversals answered 201 through the API
// reach the detector, and the client unwinding transfers raises reversal_rate for its tenant.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { eventually } from '../support/eventually.js';
import { writeConfig } from '../traffic/support.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer('sqlite', {
    VAULTGATE_CONFIG: writeConfig('alerts:\n  rules:\n    reversal_rate: { threshold: 3, window_seconds: 600, factor: 1 }\n'),
  });
});
afterAll(async () => s?.close());

it('three reversals by one client in ten minutes raise reversal_rate', async () => {
  const mover = await s.newClient('acme');
  const watcher = await s.newClient('acme', ['alerts:read']);
  const key = () => ({ 'idempotency-key': `k-${Math.random()}` });
  const cus = await s.http.call('/v1/customers', { token: mover.token, body: { full_name: 'Ada Lovelace', email: 'ada@example.com' } });
  const open = async () =>
    (await s.http.call('/v1/accounts', { token: mover.token, body: { customer_id: cus.body.id, currency: 'EUR' } })).body.id as string;
  const [a, b] = [await open(), await open()];
  await s.http.call('/v1/deposits', {
    token: mover.token,
    headers: key(),
    body: { account_id: a, amount: 1000, currency: 'EUR', reference: 'seed' },
  });
  const alerts = async () =>
    ((await s.http.call('/v1/alerts?limit=100', { token: watcher.token })).body.data as Array<{ rule: string; subject: string }>).filter(
      (x) => x.rule === 'reversal_rate',
    );
  for (let i = 0; i < 3; i++) {
    const tr = await s.http.call('/v1/transfers', {
      token: mover.token,
      headers: key(),
      body: { source_account_id: a, destination_account_id: b, amount: 10, currency: 'EUR' },
    });
    const rev = await s.http.call(`/v1/transfers/${tr.body.id}/reversals`, {
      token: mover.token,
      headers: key(),
      body: { reason: 'refund' },
    });
    expect(rev.status).toBe(201);
    if (i < 2) expect(await alerts()).toEqual([]);
  }
  await eventually(async () => (await alerts()).length === 1, 'the reversal_rate alert');
  expect((await alerts())[0]!.subject).toBe(`client:${mover.clientId}`);
});
