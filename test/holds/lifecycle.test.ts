// Holds through the API on both engines (docs/contract.md §9, issue 14): the lifecycle with exact
// balances at each step, every refusal with its code and nothing changed, the expiry sweeper from
// another connection (another node), and the races: of many concurrent captures, voids and
// sweeps of one hold exactly one wins, every time.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHoldSweeper, sweepHolds } from '../../src/holds/sweeper.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeEngines, type Engine } from '../support/databases.js';

describeEngines('holds', (engine: Engine) => {
  let s: TestServer;
  let client: Awaited<ReturnType<TestServer['newClient']>>;
  let other: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    s = await startTestServer(engine);
    client = await s.newClient('acme');
    other = await s.newClient('globex');
  });
  afterAll(async () => s?.close());

  const key = () => ({ 'idempotency-key': `k-${Math.random()}` });
  async function openAccount(as = client, funded = 0) {
    const cus = await s.http.call('/v1/customers', {
      token: as.token,
      body: { full_name: 'Grace Hopper', email: `g${Math.random()}@example.com` },
    });
    const acc = await s.http.call('/v1/accounts', { token: as.token, body: { customer_id: cus.body.id, currency: 'EUR' } });
    expect(acc.status).toBe(201);
    if (funded > 0) {
      const dep = await s.http.call('/v1/deposits', {
        token: as.token,
        headers: key(),
        body: { account_id: acc.body.id, amount: funded, currency: 'EUR', reference: 'seed' },
      });
      expect(dep.status).toBe(201);
    }
    return acc.body.id as string;
  }
  const hold = (
    source: string,
    destination: string,
    amount: number,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = key(),
  ) =>
    s.http.call('/v1/holds', {
      token: client.token,
      headers,
      body: { source_account_id: source, destination_account_id: destination, amount, currency: 'EUR', ...extra },
    });
  const capture = (id: string, body: Record<string, unknown> = {}, headers: Record<string, string> = key()) =>
    s.http.call(`/v1/holds/${id}/capture`, { token: client.token, headers, body });
  const voidHold = (id: string, body: unknown = {}) => s.http.call(`/v1/holds/${id}/void`, { token: client.token, method: 'POST', body });
  async function balance(id: string) {
    return (await s.http.call(`/v1/accounts/${id}`, { token: client.token })).body.balance as { available: number; pending: number };
  }
  /** The ledger's invariants for the tenant: entries sum to zero per currency; per account entries = available + pending. */
  async function assertBooksBalance() {
    const sums = await s.database.db.query<{ total: bigint }>('SELECT SUM(amount) AS total FROM entries GROUP BY tenant_id, currency');
    for (const r of sums) expect(Number(r.total)).toBe(0);
    const off = await s.database.db.query(
      `SELECT a.id FROM accounts a LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM entries GROUP BY account_id) e ON e.account_id = a.id
       WHERE a.available + a.pending <> COALESCE(e.total, 0) OR a.pending < 0 OR (a.kind = 'customer' AND a.available < 0)`,
    );
    expect(off).toEqual([]);
    // Every account's pending is exactly the sum of its pending holds.
    const pending = await s.database.db.query(
      `SELECT a.id FROM accounts a LEFT JOIN (SELECT source_account_id, SUM(amount) AS total FROM holds WHERE status = 'pending' GROUP BY source_account_id) h
         ON h.source_account_id = a.id WHERE a.pending <> COALESCE(h.total, 0)`,
    );
    expect(pending).toEqual([]);
  }

  it('hold → partial capture: exact balances at each step, the rest released, one transfer posted', async () => {
    const a = await openAccount(client, 10_000);
    const b = await openAccount();
    const created = await hold(a, b, 3_000, { description: 'card auth', metadata: { order: '42' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      status: 'pending',
      amount: 3_000,
      captured_amount: 0,
      currency: 'EUR',
      transfer_id: null,
      settled_at: null,
    });
    expect(created.body.id).toMatch(/^hold_[0-9a-z]{26}$/);
    // Seven days by default.
    const ttl = Date.parse(created.body.expires_at) - Date.parse(created.body.created_at);
    expect(ttl).toBe(604_800_000);
    expect(await balance(a)).toEqual({ available: 7_000, pending: 3_000 });
    expect(await balance(b)).toEqual({ available: 0, pending: 0 });

    const captured = await capture(created.body.id, { amount: 2_000 });
    expect(captured.status).toBe(201);
    expect(captured.body).toMatchObject({
      kind: 'transfer',
      status: 'posted',
      amount: 2_000,
      source_account_id: a,
      destination_account_id: b,
      description: 'card auth',
      metadata: { order: '42' },
    });
    expect(await balance(a)).toEqual({ available: 8_000, pending: 0 });
    expect(await balance(b)).toEqual({ available: 2_000, pending: 0 });
    const after = await s.http.call(`/v1/holds/${created.body.id}`, { token: client.token });
    expect(after.body).toMatchObject({ status: 'captured', captured_amount: 2_000, transfer_id: captured.body.id });
    expect(after.body.settled_at).not.toBeNull();
    await assertBooksBalance();
  });

  it('a capture replayed with its key answers the same transfer and moves nothing more', async () => {
    const a = await openAccount(client, 5_000);
    const b = await openAccount();
    const h = await hold(a, b, 5_000);
    const headers = key();
    const first = await capture(h.body.id, {}, headers);
    const again = await capture(h.body.id, {}, headers);
    expect(first.status).toBe(201);
    expect([again.status, again.body.id, again.headers['idempotent-replayed']]).toEqual([201, first.body.id, 'true']);
    expect(await balance(a)).toEqual({ available: 0, pending: 0 });
    expect(await balance(b)).toEqual({ available: 5_000, pending: 0 });
  });

  it('one key and one body against another hold is a reuse (409), not a replay of the first capture', async () => {
    const a = await openAccount(client, 1_000);
    const b = await openAccount();
    const first = await hold(a, b, 100);
    const second = await hold(a, b, 100);
    const headers = key();
    expect((await capture(first.body.id, {}, headers)).status).toBe(201);
    const reused = await capture(second.body.id, {}, headers);
    expect([reused.status, reused.body.code]).toEqual([409, 'idempotency_key_reused']);
    expect((await s.http.call(`/v1/holds/${second.body.id}`, { token: client.token })).body.status).toBe('pending');
  });

  it('void releases everything; a second void, or a capture after it, is 409 hold_not_pending and changes nothing', async () => {
    const a = await openAccount(client, 1_000);
    const b = await openAccount();
    const h = await hold(a, b, 400);
    expect(await balance(a)).toEqual({ available: 600, pending: 400 });
    const voided = await voidHold(h.body.id);
    expect([voided.status, voided.body.status, voided.body.captured_amount]).toEqual([200, 'voided', 0]);
    expect(await balance(a)).toEqual({ available: 1_000, pending: 0 });
    for (const res of [await voidHold(h.body.id), await capture(h.body.id)])
      expect([res.status, res.body.code]).toEqual([409, 'hold_not_pending']);
    expect(await balance(a)).toEqual({ available: 1_000, pending: 0 });
    expect(await balance(b)).toEqual({ available: 0, pending: 0 });
    await assertBooksBalance();
  });

  it('refusals: each with its code, and no balance or row changed', async () => {
    const a = await openAccount(client, 1_000);
    const b = await openAccount();
    const foreign = await openAccount(other, 1_000);
    const holdsBefore = await s.database.db.one<{ n: bigint }>('SELECT COUNT(*) AS n FROM holds');
    const cases: Array<[Promise<{ status: number; body: any }>, number, string]> = [
      [hold(a, b, 1_001), 422, 'insufficient_funds'],
      [hold(a, a, 10), 422, 'same_account'],
      [hold(a, foreign, 10), 404, 'not_found'],
      [hold(foreign, b, 10), 404, 'not_found'],
      [hold(a, b, 10, { currency: 'USD' }), 422, 'currency_mismatch'],
      [hold(a, b, 10, { expires_in_seconds: 59 }), 400, 'validation_failed'],
      [hold(a, b, 10, { expires_in_seconds: 2_592_001 }), 400, 'validation_failed'],
      [hold(a, b, 0), 400, 'validation_failed'],
      [hold(a, b, 10, { unknown: true }), 400, 'validation_failed'],
      [hold(a, b, 10, {}, {}), 400, 'validation_failed'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      expect([res.status, res.body.code]).toEqual([status, code]);
    }
    expect(await s.database.db.one<{ n: bigint }>('SELECT COUNT(*) AS n FROM holds')).toEqual(holdsBefore);
    expect(await balance(a)).toEqual({ available: 1_000, pending: 0 });

    const h = await hold(a, b, 300);
    const above = await capture(h.body.id, { amount: 301 });
    expect([above.status, above.body.code]).toEqual([422, 'amount_above_hold']);
    // Another tenant cannot see, capture or void it: the same answer as an unknown id.
    for (const res of [
      await s.http.call(`/v1/holds/${h.body.id}`, { token: other.token }),
      await s.http.call(`/v1/holds/${h.body.id}/capture`, { token: other.token, headers: key(), body: {} }),
      await s.http.call(`/v1/holds/${h.body.id}/void`, { token: other.token, body: {} }),
      await capture('hold_00000000000000000000000000'),
    ]) {
      expect([res.status, res.body.code]).toEqual([404, 'not_found']);
    }
    expect(await balance(a)).toEqual({ available: 700, pending: 300 });
    const listed = await s.http.call(`/v1/holds?account_id=${a}`, { token: client.token });
    expect(listed.body.data.map((x: { id: string }) => x.id)).toEqual([h.body.id]);
    expect((await s.http.call(`/v1/holds?account_id=${a}`, { token: other.token })).status).toBe(404);
    await assertBooksBalance();
  });

  it('the sweeper (another connection: another node) releases an expired hold once; a capture after the expiry is refused', async () => {
    const a = await openAccount(client, 1_000);
    const b = await openAccount();
    const h = await hold(a, b, 250, { expires_in_seconds: 60 });
    const sweeper = createHoldSweeper({ db: s.database.db });
    // Not due yet: nothing released.
    expect(await sweepHolds(sweeper, Date.now())).toBe(0);
    const later = Date.parse(h.body.expires_at) + 1;
    const released = await Promise.all([sweepHolds(sweeper, later), sweepHolds(sweeper, later)]);
    expect(released.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(1);
    expect((await s.http.call(`/v1/holds/${h.body.id}`, { token: client.token })).body.status).toBe('expired');
    expect(await balance(a)).toEqual({ available: 1_000, pending: 0 });
    expect(await sweepHolds(sweeper, later)).toBe(0);
    const res = await capture(h.body.id);
    expect([res.status, res.body.code]).toEqual([409, 'hold_not_pending']);
    await assertBooksBalance();
  });

  it('races: of 8 captures, 8 voids and 2 sweeps at once on one hold, exactly one wins; the rest are refused', async () => {
    for (let round = 0; round < 3; round++) {
      const a = await openAccount(client, 1_000);
      const b = await openAccount();
      const h = await hold(a, b, 600, { expires_in_seconds: 60 });
      const sweeper = createHoldSweeper({ db: s.database.db });
      // The sweeps act as if the hold were already due: they compete for the same row.
      const expiresAt = Date.parse(h.body.expires_at) + 1;
      const attempts = await Promise.all([
        ...Array.from({ length: 8 }, () => capture(h.body.id).then((r) => ({ kind: 'capture', ok: r.status === 201, code: r.body.code }))),
        ...Array.from({ length: 8 }, () => voidHold(h.body.id).then((r) => ({ kind: 'void', ok: r.status === 200, code: r.body.code }))),
        ...Array.from({ length: 2 }, () => sweepHolds(sweeper, expiresAt).then((n) => ({ kind: 'expiry', ok: n === 1, code: undefined }))),
      ]);
      const winners = attempts.filter((x) => x.ok);
      expect(winners).toHaveLength(1);
      for (const loser of attempts.filter((x) => !x.ok && x.kind !== 'expiry')) expect(loser.code).toBe('hold_not_pending');
      const final = (await s.http.call(`/v1/holds/${h.body.id}`, { token: client.token })).body;
      const expected = { capture: 'captured', void: 'voided', expiry: 'expired' }[winners[0]!.kind as 'capture' | 'void' | 'expiry'];
      expect(final.status).toBe(expected);
      expect(await balance(a)).toEqual(expected === 'captured' ? { available: 400, pending: 0 } : { available: 1_000, pending: 0 });
      expect(await balance(b)).toEqual(expected === 'captured' ? { available: 600, pending: 0 } : { available: 0, pending: 0 });
    }
    await assertBooksBalance();
  });

  it('holds count against the funds: two holds cannot hold more than the balance, even at once', async () => {
    const a = await openAccount(client, 1_000);
    const b = await openAccount();
    const results = await Promise.all(Array.from({ length: 6 }, () => hold(a, b, 400)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(2);
    for (const r of results.filter((x) => x.status !== 201)) expect(r.body.code).toBe('insufficient_funds');
    expect(await balance(a)).toEqual({ available: 200, pending: 800 });
    // A transfer cannot spend what is held.
    const t = await s.http.call('/v1/transfers', {
      token: client.token,
      headers: key(),
      body: { source_account_id: a, destination_account_id: b, amount: 201, currency: 'EUR' },
    });
    expect([t.status, t.body.code]).toEqual([422, 'insufficient_funds']);
    await assertBooksBalance();
  });
});
