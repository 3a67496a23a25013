// Containment (issue 14, item 7), on both engines: a frozen account pays nothing out — no
// transfer, hold, capture or reversal debiting it (409 account_frozen) — while credits still land;
// a tenant's money freeze (admin route, or the CLI in another process) stops every movement of
// that tenant on every node at once and no other tenant's; each audited with who and why; the
// scope is least privilege (operators and admins, never a customer).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ROLE_SCOPES } from '../../src/lib/roles.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { createClient } from '../e2e/http.js';
import { runCli } from '../support/cli.js';
import { describeEngines, type Engine } from '../support/databases.js';
import { eventually } from '../support/eventually.js';
import { writeConfig } from '../traffic/support.js';

describeEngines('freezes', (engine: Engine) => {
  let s: TestServer;
  let nodeB: RunningServer;
  let httpB: ReturnType<typeof createClient>;
  let mover: Awaited<ReturnType<TestServer['newClient']>>;
  let operator: Awaited<ReturnType<TestServer['newClient']>>;
  let admin: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    s = await startTestServer(engine);
    nodeB = await startServer(loadConfig(s.env), { logger: createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() })) });
    httpB = createClient(nodeB.url, readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem')));
    mover = await s.newClient('acme');
    operator = await s.newClient('acme', ['accounts:freeze']);
    admin = await s.newClient('acme', ['admin:clients']);
  });
  afterAll(async () => {
    httpB?.close();
    await nodeB?.close();
    await s?.close();
  });

  const key = () => ({ 'idempotency-key': `k-${Math.random()}` });
  async function funded(as = mover, amount = 1_000) {
    const cus = await s.http.call('/v1/customers', {
      token: as.token,
      body: { full_name: 'Grace Hopper', email: `f${Math.random()}@example.com` },
    });
    const acc = await s.http.call('/v1/accounts', { token: as.token, body: { customer_id: cus.body.id, currency: 'EUR' } });
    await s.http.call('/v1/deposits', {
      token: as.token,
      headers: key(),
      body: { account_id: acc.body.id, amount, currency: 'EUR', reference: 'seed' },
    });
    return acc.body.id as string;
  }
  const transfer = (from: string, to: string, amount = 10, as = mover) =>
    s.http.call('/v1/transfers', {
      token: as.token,
      headers: key(),
      body: { source_account_id: from, destination_account_id: to, amount, currency: 'EUR' },
    });
  const balance = async (id: string) => (await s.http.call(`/v1/accounts/${id}`, { token: mover.token })).body.balance;

  it('a frozen account pays nothing out (transfer, hold, capture, reversal debiting it) but still receives; unfrozen, it pays again', async () => {
    const a = await funded();
    const b = await funded();
    const pending = await s.http.call('/v1/holds', {
      token: mover.token,
      headers: key(),
      body: { source_account_id: a, destination_account_id: b, amount: 50, currency: 'EUR' },
    });
    const intoA = await transfer(b, a, 100);
    expect(intoA.status).toBe(201);
    const frozen = await s.http.call(`/v1/accounts/${a}/freeze`, { token: operator.token, body: { reason: 'card reported stolen' } });
    expect([frozen.status, frozen.body]).toEqual([200, { id: a, frozen: true }]);
    expect((await s.http.call(`/v1/accounts/${a}`, { token: mover.token })).body.frozen).toBe(true);
    const before = await balance(a);
    for (const res of [
      await transfer(a, b),
      await s.http.call('/v1/holds', {
        token: mover.token,
        headers: key(),
        body: { source_account_id: a, destination_account_id: b, amount: 5, currency: 'EUR' },
      }),
      await s.http.call(`/v1/holds/${pending.body.id}/capture`, { token: mover.token, headers: key(), body: {} }),
      await s.http.call(`/v1/transfers/${intoA.body.id}/reversals`, { token: mover.token, headers: key(), body: { reason: 'refund' } }),
    ]) {
      expect([res.status, res.body.code]).toEqual([409, 'account_frozen']);
    }
    expect(await balance(a)).toEqual(before);
    // Money owed to it still lands; releasing its own hold is no payment either.
    expect((await transfer(b, a, 7)).status).toBe(201);
    expect((await s.http.call(`/v1/holds/${pending.body.id}/void`, { token: mover.token, body: {} })).status).toBe(200);

    const unfrozen = await s.http.call(`/v1/accounts/${a}/unfreeze`, { token: operator.token, body: {} });
    expect([unfrozen.status, unfrozen.body.frozen]).toEqual([200, false]);
    expect((await transfer(a, b)).status).toBe(201);
    const events = await s.database.db.query<{ action: string; client_id: string; details: string }>(
      "SELECT action, client_id, details FROM audit_events WHERE target = $1 AND action IN ('account.freeze', 'account.unfreeze') ORDER BY seq",
      [a],
    );
    expect(events.map((e) => [e.action, e.client_id])).toEqual([
      ['account.freeze', operator.clientId],
      ['account.unfreeze', operator.clientId],
    ]);
    expect(JSON.parse(events[0]!.details)).toEqual({ reason: 'card reported stolen' });
  });

  it("least privilege: without accounts:freeze 403; a customer role never has it; another tenant's account 404; a freeze needs a reason", async () => {
    const a = await funded();
    expect((await s.http.call(`/v1/accounts/${a}/freeze`, { token: mover.token, body: { reason: 'x' } })).body.code).toBe(
      'insufficient_scope',
    );
    expect(ROLE_SCOPES.customer).not.toContain('accounts:freeze');
    expect(ROLE_SCOPES.auditor).not.toContain('accounts:freeze');
    const globex = await s.newClient('globex', ['accounts:freeze']);
    const foreign = await s.http.call(`/v1/accounts/${a}/freeze`, { token: globex.token, body: { reason: 'x' } });
    expect([foreign.status, foreign.body.code]).toEqual([404, 'not_found']);
    const noReason = await s.http.call(`/v1/accounts/${a}/freeze`, { token: operator.token, body: {} });
    expect([noReason.status, noReason.body.code]).toEqual([400, 'validation_failed']);
    expect((await s.http.call(`/v1/accounts/${a}`, { token: mover.token })).body.frozen).toBe(false);
  });

  it("a tenant freeze stops every movement of that tenant at once on the other node too, and no other tenant's", async () => {
    const a = await funded();
    const b = await funded();
    const globex = await s.newClient('globex');
    const g1 = await funded(globex);
    const g2 = await funded(globex);
    const tenantId = mover.tenantId;
    const frozen = await s.http.call(`/v1/admin/tenants/${tenantId}/freeze`, { token: admin.token, body: { reason: 'incident 42' } });
    expect([frozen.status, frozen.body.money_frozen]).toEqual([200, true]);
    // Node B, same database: at once.
    const tokenB = (
      await httpB.call('/oauth/token', {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${mover.clientId}:${mover.secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials&scope=transfers:write ledger:fund',
      })
    ).body.access_token as string;
    const onB = await httpB.call('/v1/transfers', {
      token: tokenB,
      headers: key(),
      body: { source_account_id: a, destination_account_id: b, amount: 1, currency: 'EUR' },
    });
    expect([onB.status, onB.body.code]).toEqual([409, 'tenant_frozen']);
    const deposit = await s.http.call('/v1/deposits', {
      token: mover.token,
      headers: key(),
      body: { account_id: a, amount: 1, currency: 'EUR', reference: 'x' },
    });
    expect([deposit.status, deposit.body.code]).toEqual([409, 'tenant_frozen']);
    expect((await transfer(g1, g2, 10, globex)).status).toBe(201);
    // A tenant's admin cannot freeze (or unfreeze) another tenant.
    const globexId = globex.tenantId;
    expect((await s.http.call(`/v1/admin/tenants/${globexId}/freeze`, { token: admin.token, body: { reason: 'x' } })).status).toBe(404);

    expect((await s.http.call(`/v1/admin/tenants/${tenantId}/unfreeze`, { token: admin.token, body: {} })).status).toBe(200);
    expect((await transfer(a, b)).status).toBe(201);
  });

  it('the CLI freezes a tenant from another process: the running nodes refuse its money at once', async () => {
    const a = await funded();
    const b = await funded();
    const frozen = await runCli(['tenants', 'freeze', 'acme', '--reason', 'fraud ring', '--json'], s.env);
    expect(frozen.code).toBe(0);
    expect(JSON.parse(frozen.stdout)).toMatchObject({ name: 'acme', money_frozen: true });
    expect((await transfer(a, b)).body.code).toBe('tenant_frozen');
    const missingReason = await runCli(['tenants', 'freeze', 'acme'], s.env);
    expect([missingReason.code, missingReason.stderr.trim()]).toEqual([2, 'vaultgate: --reason TEXT is required: the audit log says why']);
    expect((await runCli(['tenants', 'unfreeze', 'acme', '--json'], s.env)).code).toBe(0);
    expect((await transfer(a, b)).status).toBe(201);
    const audited = await s.database.db.query<{ action: string; details: string }>(
      "SELECT action, details FROM audit_events WHERE action IN ('tenant.freeze', 'tenant.unfreeze') AND details LIKE '%cli%' ORDER BY seq",
    );
    expect(audited.map((e) => [e.action, JSON.parse(e.details)])).toEqual([
      ['tenant.freeze', { reason: 'fraud ring', actor: 'cli' }],
      ['tenant.unfreeze', { actor: 'cli' }],
    ]);
  });
});

describeEngines('a detection rule that freezes the account it fires on', (engine: Engine) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(engine, {
      VAULTGATE_CONFIG: writeConfig('alerts:\n  rules:\n    large_transfer: { threshold: 500, action: freeze_account }\n'),
    });
  });
  afterAll(async () => s?.close());

  it('large_transfer with action freeze_account: the source is frozen within moments, audited as the detector', async () => {
    const mover = await s.newClient('acme');
    const key = () => ({ 'idempotency-key': `k-${Math.random()}` });
    const cus = await s.http.call('/v1/customers', { token: mover.token, body: { full_name: 'Ada Lovelace', email: 'ada@example.com' } });
    const open = async () =>
      (await s.http.call('/v1/accounts', { token: mover.token, body: { customer_id: cus.body.id, currency: 'EUR' } })).body.id as string;
    const [a, b] = [await open(), await open()];
    await s.http.call('/v1/deposits', {
      token: mover.token,
      headers: key(),
      body: { account_id: a, amount: 10_000, currency: 'EUR', reference: 'seed' },
    });
    const move = (amount: number) =>
      s.http.call('/v1/transfers', {
        token: mover.token,
        headers: key(),
        body: { source_account_id: a, destination_account_id: b, amount, currency: 'EUR' },
      });
    expect((await move(100)).status).toBe(201);
    expect((await s.http.call(`/v1/accounts/${a}`, { token: mover.token })).body.frozen).toBe(false);
    expect((await move(600)).status).toBe(201);
    await eventually(
      async () => (await s.http.call(`/v1/accounts/${a}`, { token: mover.token })).body.frozen === true,
      'the source frozen',
    );
    const refused = await move(1);
    expect([refused.status, refused.body.code]).toEqual([409, 'account_frozen']);
    const events = await s.database.db.query<{ details: string }>(
      "SELECT details FROM audit_events WHERE action = 'account.freeze' AND target = $1",
      [a],
    );
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.details)).toMatchObject({ actor: 'detector', reason: expect.stringContaining('alert large_transfer') });
  });
});
