// The audit trail through the real server, on both engines: every change writes exactly one event
// (counted against the actions this test performs), money never moves without its event, and the
// list and export honour filters and tenancy.
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { describeEngines, type Engine } from '../support/databases.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';

describeEngines('audit trail through the API', (engine: Engine) => {
  let s: TestServer;
  let acme: Awaited<ReturnType<TestServer['newClient']>>;
  let auditor: Awaited<ReturnType<TestServer['newClient']>>;
  let platform: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    s = await startTestServer(engine);
    acme = await s.newClient('acme');
    auditor = await s.newClient('acme', ['audit:read']);
    platform = await s.newClient('platform', ['audit:read']);
    // Token issuance is audited just after the token is sent: let the three setup tokens land
    // before a test counts events from here.
    await vi.waitFor(async () => expect((await actions()).filter((a) => a === 'auth.token_issued:success')).toHaveLength(3), {
      timeout: 5000,
    });
  });
  afterAll(async () => s?.close());

  const idem = () => ({ 'idempotency-key': `k-${Math.random().toString(36).slice(2)}` });
  async function actions() {
    return (await s.database.db.query<{ action: string; outcome: string }>('SELECT action, outcome FROM audit_events ORDER BY seq')).map(
      (r) => `${r.action}:${r.outcome}`,
    );
  }

  // @control PCI-10.2.1, PCI-10.2.1.4, PCI-10.2.2
  it('writes one event per action performed, and nothing for reads or replays', async () => {
    const before = await actions();
    const cus = await s.http.call('/v1/customers', { token: acme.token, body: { full_name: 'Ada Lovelace', email: 'ada@example.com' } });
    const a = await s.http.call('/v1/accounts', { token: acme.token, body: { customer_id: cus.body.id, currency: 'EUR' } });
    const b = await s.http.call('/v1/accounts', { token: acme.token, body: { customer_id: cus.body.id, currency: 'EUR' } });
    const depKey = idem();
    const dep = await s.http.call('/v1/deposits', {
      token: acme.token,
      headers: depKey,
      body: { account_id: a.body.id, amount: 5000, currency: 'EUR', reference: 'seed' },
    });
    expect(dep.status).toBe(201);
    const replay = await s.http.call('/v1/deposits', {
      token: acme.token,
      headers: depKey,
      body: { account_id: a.body.id, amount: 5000, currency: 'EUR', reference: 'seed' },
    });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    const tr = await s.http.call('/v1/transfers', {
      token: acme.token,
      headers: idem(),
      body: { source_account_id: a.body.id, destination_account_id: b.body.id, amount: 100, currency: 'EUR' },
    });
    expect(tr.status).toBe(201);
    const refused = await s.http.call('/v1/transfers', {
      token: acme.token,
      headers: idem(),
      body: { source_account_id: a.body.id, destination_account_id: b.body.id, amount: 999999, currency: 'EUR' },
    });
    expect(refused.body.code).toBe('insufficient_funds');
    await s.http.call(`/v1/accounts/${a.body.id}`, { token: acme.token }); // a read: not audited
    expect((await s.http.call('/v1/customers', { token: auditor.token })).status).toBe(403); // authz.denied
    expect((await s.http.call('/v1/customers', { token: 'not-a-token' })).status).toBe(401); // auth.token_rejected
    expect((await s.token(acme.clientId, 'wrong-secret', 'customers:read')).status).toBe(401); // auth.client_auth_failed
    expect((await s.token(acme.clientId, acme.secret, 'customers:read')).status).toBe(200); // auth.token_issued
    expect((await s.http.call(`/v1/customers/${cus.body.id}`, { method: 'DELETE', token: acme.token })).status).toBe(200);

    const expected = [
      'customer.create:success',
      'account.create:success',
      'account.create:success',
      'deposit.create:success',
      'transfer.create:success',
      'authz.denied:denied',
      'auth.token_rejected:denied',
      'auth.client_auth_failed:failure',
      'auth.token_issued:success',
      'customer.erase:success',
    ];
    // Denials and OAuth events are written just after their response: wait for them, then compare exactly.
    await expect.poll(async () => (await actions()).slice(before.length).sort(), { timeout: 10_000 }).toEqual([...expected].sort());

    // The money events carry the transfer and the request that made it.
    const moneyEvent = await s.database.db.one<{ target: string; request_id: string; client_id: string; details: string }>(
      "SELECT target, request_id, client_id, details FROM audit_events WHERE action = 'transfer.create'",
    );
    expect(moneyEvent).toMatchObject({ target: tr.body.id, request_id: tr.headers['x-request-id'], client_id: acme.clientId });
    expect(JSON.parse(moneyEvent!.details)).toMatchObject({ amount: 100, currency: 'EUR' });
    expect(await s.server.services.audit.verify()).toMatchObject({ ok: true });
  });

  // @control PCI-10.2.1
  it('a transfer whose audit write fails is not posted', async () => {
    const db = s.database.db;
    const cus = await s.http.call('/v1/customers', { token: acme.token, body: { full_name: 'Grace Hopper', email: 'grace@example.com' } });
    const a = (await s.http.call('/v1/accounts', { token: acme.token, body: { customer_id: cus.body.id, currency: 'EUR' } })).body.id;
    const b = (await s.http.call('/v1/accounts', { token: acme.token, body: { customer_id: cus.body.id, currency: 'EUR' } })).body.id;
    await s.http.call('/v1/deposits', {
      token: acme.token,
      headers: idem(),
      body: { account_id: a, amount: 1000, currency: 'EUR', reference: 'seed' },
    });
    const snapshot = async () => ({
      balances: (
        await db.query<{ id: string; available: bigint }>('SELECT id, available FROM accounts WHERE id IN ($1, $2) ORDER BY id', [a, b])
      ).map((r) => [r.id, Number(r.available)]),
      transfers: Number((await db.one<{ n: bigint }>('SELECT COUNT(*) AS n FROM transfers'))!.n),
      entries: Number((await db.one<{ n: bigint }>('SELECT COUNT(*) AS n FROM entries'))!.n),
      events: Number((await db.one<{ n: bigint }>("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'transfer.create'"))!.n),
    });
    const before = await snapshot();

    // The real engine refuses the audit insert, inside the posting's transaction.
    if (engine === 'sqlite') {
      await db.run(
        "CREATE TRIGGER audit_fail BEFORE INSERT ON audit_events WHEN NEW.action = 'transfer.create' BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END",
      );
    } else {
      await db.run("CREATE FUNCTION audit_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit unavailable'; END $$");
      // On PostgreSQL the posting's transaction writes its event to audit_pending (sealed after commit).
      await db.run(
        "CREATE TRIGGER audit_fail BEFORE INSERT ON audit_pending FOR EACH ROW WHEN (NEW.action = 'transfer.create') EXECUTE FUNCTION audit_fail()",
      );
    }
    const res = await s.http.call('/v1/transfers', {
      token: acme.token,
      headers: idem(),
      body: { source_account_id: a, destination_account_id: b, amount: 400, currency: 'EUR' },
    });
    expect(res.status).toBe(500);
    expect(res.body.code).toBe('internal_error');
    expect(await snapshot()).toEqual(before);

    await db.run(engine === 'sqlite' ? 'DROP TRIGGER audit_fail' : 'DROP TRIGGER audit_fail ON audit_pending');
    const ok = await s.http.call('/v1/transfers', {
      token: acme.token,
      headers: idem(),
      body: { source_account_id: a, destination_account_id: b, amount: 400, currency: 'EUR' },
    });
    expect(ok.status).toBe(201);
    expect((await snapshot()).events).toBe(before.events + 1);
  });

  // @control PCI-10.3.1
  it('lists events with filters; a tenant auditor sees only its tenant, the platform sees all', async () => {
    const mine = await s.http.call('/v1/audit-events?action=transfer.create&outcome=success&limit=1', { token: auditor.token });
    expect(mine.status).toBe(200);
    expect(mine.body.data).toHaveLength(1);
    expect(mine.body.has_more).toBe(true);
    expect(mine.body.data[0]).toMatchObject({
      action: 'transfer.create',
      outcome: 'success',
      actor: { tenant_id: acme.tenantId, client_id: acme.clientId },
    });
    const next = await s.http.call(`/v1/audit-events?action=transfer.create&starting_after=${mine.body.next_cursor}`, {
      token: auditor.token,
    });
    expect(next.body.data[0].seq).toBeGreaterThan(mine.body.data[0].seq);

    const globex = await s.newClient('globex', ['audit:read']);
    const theirs = await s.http.call('/v1/audit-events?limit=100', { token: globex.token });
    expect(theirs.body.data.every((e: { actor: { tenant_id: string } }) => e.actor.tenant_id === globex.tenantId)).toBe(true);
    expect(theirs.body.data.some((e: { action: string }) => e.action === 'transfer.create')).toBe(false);
    // Another tenant's event id as a cursor reads as unknown: the same (empty) page as a made-up id.
    const foreignCursor = await s.http.call(`/v1/audit-events?starting_after=${mine.body.data[0].id}`, { token: globex.token });
    const madeUp = await s.http.call(`/v1/audit-events?starting_after=aud_${'0'.repeat(26)}`, { token: globex.token });
    expect([foreignCursor.status, foreignCursor.body.data]).toEqual([200, []]);
    expect(madeUp.body.data).toEqual([]);
    // tenant_id is ignored for a non-platform principal
    const sneaky = await s.http.call(`/v1/audit-events?tenant_id=${acme.tenantId}`, { token: globex.token });
    expect(sneaky.body.data.some((e: { actor: { tenant_id: string } }) => e.actor.tenant_id === acme.tenantId)).toBe(false);

    const all = await s.http.call(`/v1/audit-events?tenant_id=${acme.tenantId}&limit=100`, { token: platform.token });
    expect(all.body.data.length).toBeGreaterThan(0);
    expect(all.body.data.every((e: { actor: { tenant_id: string } }) => e.actor.tenant_id === acme.tenantId)).toBe(true);

    const future = await s.http.call(`/v1/audit-events?from=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`, {
      token: platform.token,
    });
    expect(future.body.data).toEqual([]);
    expect((await s.http.call('/v1/audit-events?action=nope', { token: platform.token })).body.code).toBe('validation_failed');
    expect((await s.http.call('/v1/audit-events', { token: acme.token })).body.code).toBe('insufficient_scope');
  });

  // @control PCI-10.3.3
  it('exports JSON lines, and publishes the checkpoint key', async () => {
    const res = await s.http.call('/v1/audit-events/export?action=transfer.create', { token: auditor.token });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const lines = res.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.every((e) => e.action === 'transfer.create' && e.actor.tenant_id === acme.tenantId)).toBe(true);
    const key = await s.http.call('/v1/audit-events/signing-key', { token: auditor.token });
    expect(key.body).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(key.body).not.toHaveProperty('d');
  });
});
