// Reversals through the API on both engines (docs/contract.md §9): full and partial reversals with
// exact balances and entries, of transfers and of deposits; every refusal with its code and nothing
// changed; the Idempotency-Key; the audit event and the transfer.reversed event of each reversal,
// written with it; and the race: many reversals of one transfer at once never reverse more than it.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { dpopProof, registerFapiClient } from '../fapi/fapi-client.js';
import { describeEngines, type Engine } from '../support/databases.js';
import { eventually } from '../support/eventually.js';
import { tokenFor } from '../users/support.js';

type Reply = { status: number; headers: Record<string, string | string[] | undefined>; body: any };

describeEngines('reversals', (engine: Engine) => {
  let s: TestServer;
  let client: Awaited<ReturnType<TestServer['newClient']>>;
  let other: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    s = await startTestServer(engine);
    client = await s.newClient('acme');
    other = await s.newClient('globex');
  });
  afterAll(async () => s?.close());

  const key = () => ({ 'idempotency-key': `k-${randomUUID()}` });
  const sql = () => s.database.db;

  async function openAccount(as = client, funded = 0) {
    const cus = await s.http.call('/v1/customers', {
      token: as.token,
      body: { full_name: 'Grace Hopper', email: `g${randomUUID()}@example.com` },
    });
    const acc = await s.http.call('/v1/accounts', { token: as.token, body: { customer_id: cus.body.id, currency: 'EUR' } });
    expect(acc.status).toBe(201);
    if (funded > 0) expect((await deposit(acc.body.id, funded, as)).status).toBe(201);
    return acc.body.id as string;
  }
  const deposit = (account: string, amount: number, as = client) =>
    s.http.call('/v1/deposits', {
      token: as.token,
      headers: key(),
      body: { account_id: account, amount, currency: 'EUR', reference: 'seed' },
    });
  async function transfer(source: string, destination: string, amount: number, as = client) {
    return s.http.call('/v1/transfers', {
      token: as.token,
      headers: key(),
      body: { source_account_id: source, destination_account_id: destination, amount, currency: 'EUR' },
    });
  }
  /** A posted transfer's id. */
  async function posted(source: string, destination: string, amount: number): Promise<string> {
    const t = await transfer(source, destination, amount);
    expect(t.status).toBe(201);
    return t.body.id as string;
  }
  const reverse = (id: string, body: Record<string, unknown>, headers: Record<string, string> = key(), as = client): Promise<Reply> =>
    s.http.call(`/v1/transfers/${id}/reversals`, { token: as.token, headers, body });
  async function balance(id: string) {
    return (await s.http.call(`/v1/accounts/${id}`, { token: client.token })).body.balance as { available: number; pending: number };
  }
  async function settlementAvailable(tenantId: string): Promise<bigint> {
    const row = await sql().one<{ available: bigint }>(
      "SELECT available FROM accounts WHERE tenant_id = $1 AND kind = 'settlement' AND currency = 'EUR'",
      [tenantId],
    );
    return row?.available ?? 0n;
  }
  async function reversedTotal(id: string): Promise<bigint> {
    const row = await sql().one<{ total: bigint }>(
      'SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM transfers WHERE reversal_of = $1',
      [id],
    );
    return row?.total ?? 0n;
  }
  /** The events of type transfer.reversed, as their data (the reversal's API view). */
  async function reversedEvents(): Promise<Array<Record<string, any>>> {
    const rows = await sql().query<{ data: string }>("SELECT data FROM events WHERE type = 'transfer.reversed' ORDER BY seq");
    return rows.map((r) => JSON.parse(r.data) as Record<string, any>);
  }
  /** Everything a refused reversal must leave as it was: every balance, and every count of rows it would write. */
  async function books() {
    const accounts = await sql().query<{ id: string; available: bigint; pending: bigint }>(
      'SELECT id, available, pending FROM accounts ORDER BY id',
    );
    const n = async (q: string) => Number((await sql().one<{ n: bigint }>(q))?.n);
    return {
      balances: accounts.map((a) => `${a.id}:${a.available}/${a.pending}`),
      transfers: await n('SELECT COUNT(*) AS n FROM transfers'),
      entries: await n('SELECT COUNT(*) AS n FROM entries'),
      events: await n('SELECT COUNT(*) AS n FROM events'),
      audited: await n(
        "SELECT (SELECT COUNT(*) FROM audit_events WHERE action = 'transfer.reverse') + (SELECT COUNT(*) FROM audit_pending WHERE action = 'transfer.reverse') AS n",
      ),
    };
  }
  /** The ledger's invariants: entries sum to zero per tenant and currency; per account entries = available + pending. */
  async function assertBooksBalance() {
    const sums = await sql().query<{ total: bigint }>('SELECT SUM(amount) AS total FROM entries GROUP BY tenant_id, currency');
    expect(sums.length).toBeGreaterThan(0);
    for (const r of sums) expect(Number(r.total)).toBe(0);
    const off = await sql().query(
      `SELECT a.id FROM accounts a LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM entries GROUP BY account_id) e ON e.account_id = a.id
       WHERE a.available + a.pending <> COALESCE(e.total, 0) OR (a.kind = 'customer' AND a.available < 0)`,
    );
    expect(off).toEqual([]);
    // No transfer is reversed by more than its amount; reversals are never reversed.
    const over = await sql().query(
      `SELECT o.id FROM transfers o JOIN transfers r ON r.reversal_of = o.id
       GROUP BY o.id, o.amount, o.kind HAVING SUM(r.amount) > o.amount OR o.kind = 'reversal'`,
    );
    expect(over).toEqual([]);
  }
  async function auditOf(reversalId: string): Promise<Record<string, unknown>> {
    let details: string | null | undefined;
    // On PostgreSQL an audit event is readable in audit_events once the sealer has chained it.
    await eventually(async () => {
      const row = await sql().one<{ details: string | null }>(
        "SELECT details FROM audit_events WHERE action = 'transfer.reverse' AND target = $1 AND outcome = 'success'",
        [reversalId],
      );
      details = row?.details;
      return row !== undefined;
    }, `the audit event of ${reversalId}`);
    return JSON.parse(details ?? 'null') as Record<string, unknown>;
  }

  it('a full reversal: the money goes back, two entries, linked to the original, audited, and its event written with it', async () => {
    const a = await openAccount(client, 10_000);
    const b = await openAccount();
    const original = await posted(a, b, 2_500);
    const eventsBefore = (await reversedEvents()).length;

    const res = await reverse(original, { reason: 'customer complaint #17' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      kind: 'reversal',
      status: 'posted',
      source_account_id: b,
      destination_account_id: a,
      amount: 2_500,
      currency: 'EUR',
      description: 'customer complaint #17',
      reference: null,
      metadata: null,
      reversal_of: original,
    });
    expect(res.body.id).toMatch(/^tr_[0-9a-z]{26}$/);
    expect(await balance(a)).toEqual({ available: 10_000, pending: 0 });
    expect(await balance(b)).toEqual({ available: 0, pending: 0 });

    // The entries of B: the credit of the original, then the debit of the reversal.
    const entries = await s.http.call(`/v1/accounts/${b}/entries`, { token: client.token });
    expect(entries.body.data.map((e: any) => [e.transfer_id, e.amount, e.balance_after])).toEqual([
      [original, 2_500, 2_500],
      [res.body.id, -2_500, 0],
    ]);
    // Reading it back; the original itself is unchanged (and, like every other kind, links nothing).
    expect((await s.http.call(`/v1/transfers/${res.body.id}`, { token: client.token })).body).toEqual(res.body);
    const got = await s.http.call(`/v1/transfers/${original}`, { token: client.token });
    expect(got.body).toMatchObject({ kind: 'transfer', amount: 2_500, reversal_of: null });
    const listed = await s.http.call(`/v1/transfers?account_id=${b}`, { token: client.token });
    expect(listed.body.data.map((t: { id: string }) => t.id).sort()).toEqual([original, res.body.id].sort());

    // transfer.reversed, with the reversal's API view, once.
    const events = await reversedEvents();
    expect(events).toHaveLength(eventsBefore + 1);
    expect(events.at(-1)).toEqual(res.body);
    const tenant = await sql().one<{ tenant_id: string }>(
      "SELECT tenant_id FROM events WHERE type = 'transfer.reversed' ORDER BY seq DESC",
    );
    expect(tenant?.tenant_id).toBe(client.tenantId);
    expect(await auditOf(res.body.id)).toMatchObject({
      amount: 2_500,
      currency: 'EUR',
      source_account_id: b,
      destination_account_id: a,
      reversal_of: original,
    });
    await assertBooksBalance();
  });

  it('partial reversals add up to at most the original: the one that would exceed it is 422 amount_above_reversible and changes nothing', async () => {
    const a = await openAccount(client, 5_000);
    const b = await openAccount();
    const original = await posted(a, b, 3_000);

    expect((await reverse(original, { amount: 1_000, reason: 'part 1' })).status).toBe(201);
    expect(await balance(a)).toEqual({ available: 3_000, pending: 0 });
    expect(await balance(b)).toEqual({ available: 2_000, pending: 0 });
    expect((await reverse(original, { amount: 1_500, reason: 'part 2' })).status).toBe(201);
    expect(await balance(a)).toEqual({ available: 4_500, pending: 0 });
    expect(await balance(b)).toEqual({ available: 500, pending: 0 });

    // 500 remain: 501 is one too many.
    const before = await books();
    const above = await reverse(original, { amount: 501, reason: 'too much' });
    expect([above.status, above.body.code]).toEqual([422, 'amount_above_reversible']);
    expect(above.body.detail).toMatch(/500/);
    expect(await books()).toEqual(before);

    // No amount: what remains, exactly.
    const rest = await reverse(original, { reason: 'the rest' });
    expect([rest.status, rest.body.amount]).toEqual([201, 500]);
    expect(await balance(a)).toEqual({ available: 5_000, pending: 0 });
    expect(await balance(b)).toEqual({ available: 0, pending: 0 });
    expect(await reversedTotal(original)).toBe(3_000n);

    // Reversed in full: nothing more, with or without an amount, even once the money is back.
    expect((await deposit(b, 1_000)).status).toBe(201);
    const full = await books();
    for (const res of [await reverse(original, { amount: 1, reason: 'again' }), await reverse(original, { reason: 'again' })]) {
      expect([res.status, res.body.code]).toEqual([422, 'amount_above_reversible']);
    }
    expect(await books()).toEqual(full);
    await assertBooksBalance();
  });

  it('a reversal cannot itself be reversed: 422 not_reversible, nothing changed', async () => {
    const a = await openAccount(client, 1_000);
    const b = await openAccount();
    const original = await posted(a, b, 400);
    const reversal = await reverse(original, { amount: 100, reason: 'half' });
    expect(reversal.status).toBe(201);
    const before = await books();
    for (const body of [{ reason: 'undo the undo' }, { amount: 50, reason: 'undo the undo' }]) {
      const res = await reverse(reversal.body.id, body);
      expect([res.status, res.body.code]).toEqual([422, 'not_reversible']);
    }
    expect(await books()).toEqual(before);
    expect(await balance(a)).toEqual({ available: 700, pending: 0 });
    expect(await balance(b)).toEqual({ available: 300, pending: 0 });
  });

  it('the destination spent the money: 422 insufficient_funds and nothing changed; what it still holds can go back', async () => {
    const a = await openAccount(client, 1_000);
    const b = await openAccount();
    const c = await openAccount();
    const original = await posted(a, b, 1_000);
    await posted(b, c, 800);
    const before = await books();
    for (const body of [{ reason: 'refund' }, { amount: 201, reason: 'refund' }]) {
      const res = await reverse(original, body);
      expect([res.status, res.body.code]).toEqual([422, 'insufficient_funds']);
    }
    expect(await books()).toEqual(before);
    // A held amount is not available either.
    const held = await s.http.call('/v1/holds', {
      token: client.token,
      headers: key(),
      body: { source_account_id: b, destination_account_id: c, amount: 150, currency: 'EUR' },
    });
    expect(held.status).toBe(201);
    const whileHeld = await reverse(original, { amount: 51, reason: 'refund' });
    expect([whileHeld.status, whileHeld.body.code]).toEqual([422, 'insufficient_funds']);

    const part = await reverse(original, { amount: 50, reason: 'refund what is left' });
    expect([part.status, part.body.amount]).toEqual([201, 50]);
    expect(await balance(a)).toEqual({ available: 50, pending: 0 });
    expect(await balance(b)).toEqual({ available: 0, pending: 150 });
    expect(await reversedTotal(original)).toBe(50n);
    await assertBooksBalance();
  });

  it("a deposit can be reversed: from the customer's account back to the tenant's settlement account", async () => {
    const a = await openAccount();
    const settlementBefore = await settlementAvailable(client.tenantId);
    const dep = await deposit(a, 700);
    expect(dep.status).toBe(201);
    expect(await settlementAvailable(client.tenantId)).toBe(settlementBefore - 700n);
    const res = await reverse(dep.body.id, { amount: 300, reason: 'deposit bounced' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      kind: 'reversal',
      source_account_id: a,
      destination_account_id: dep.body.source_account_id,
      amount: 300,
      reversal_of: dep.body.id,
    });
    expect(await balance(a)).toEqual({ available: 400, pending: 0 });
    expect(await settlementAvailable(client.tenantId)).toBe(settlementBefore - 400n);
    const rest = await reverse(dep.body.id, { reason: 'deposit bounced' });
    expect([rest.status, rest.body.amount]).toEqual([201, 400]);
    expect(await settlementAvailable(client.tenantId)).toBe(settlementBefore);
    await assertBooksBalance();
  });

  it("another tenant's transfer is 404 not_found, like an unknown one; nothing changed", async () => {
    const x = await openAccount(other, 1_000);
    const y = await openAccount(other);
    const t = await transfer(x, y, 600, other);
    expect(t.status).toBe(201);
    const before = await books();
    for (const res of [
      await reverse(t.body.id, { reason: 'not mine' }),
      await reverse(t.body.id, { amount: 1, reason: 'not mine' }),
      await reverse('tr_00000000000000000000000000', { reason: 'nobody' }),
    ]) {
      expect([res.status, res.body.code]).toEqual([404, 'not_found']);
    }
    expect(await books()).toEqual(before);
    // Its own tenant may.
    expect((await reverse(t.body.id, { reason: 'mine' }, key(), other)).status).toBe(201);
  });

  it('the request: Idempotency-Key required, reason required (1..500), amount a positive integer, nothing else', async () => {
    const a = await openAccount(client, 1_000);
    const b = await openAccount();
    const original = await posted(a, b, 100);
    const before = await books();
    const cases: Array<[Promise<Reply>, number, string]> = [
      [reverse(original, { reason: 'no key' }, {}), 400, 'validation_failed'],
      [reverse(original, {}), 400, 'validation_failed'],
      [reverse(original, { reason: '' }), 400, 'validation_failed'],
      [reverse(original, { reason: 'x'.repeat(501) }), 400, 'validation_failed'],
      [reverse(original, { reason: 'r', amount: 0 }), 400, 'validation_failed'],
      [reverse(original, { reason: 'r', amount: -5 }), 400, 'validation_failed'],
      [reverse(original, { reason: 'r', amount: '5' }), 400, 'validation_failed'],
      [reverse(original, { reason: 'r', amount: 9_007_199_254_740_992 }), 400, 'validation_failed'],
      [reverse(original, { reason: 'r', destination_account_id: a }), 400, 'validation_failed'],
      [reverse('tr_nope', { reason: 'r' }), 400, 'validation_failed'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      expect([res.status, res.body.code]).toEqual([status, code]);
    }
    expect(await books()).toEqual(before);
    // 500 characters exactly is a reason.
    expect((await reverse(original, { reason: 'x'.repeat(500), amount: 1 })).status).toBe(201);
    const doc = await s.http.call('/openapi.json');
    expect(doc.body.paths['/v1/transfers/{id}/reversals'].post.operationId).toBe('transfer.reverse');
  });

  it('replayed with its key: the same reversal again with Idempotent-Replayed, nothing more moved; another body → 409', async () => {
    const a = await openAccount(client, 1_000);
    const b = await openAccount();
    const original = await posted(a, b, 600);
    const headers = key();
    const first = await reverse(original, { amount: 200, reason: 'once' }, headers);
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const before = await books();
    const again = await reverse(original, { amount: 200, reason: 'once' }, headers);
    expect([again.status, again.headers['idempotent-replayed']]).toEqual([201, 'true']);
    expect(again.body).toEqual(first.body);
    expect(await books()).toEqual(before);
    const reused = await reverse(original, { amount: 300, reason: 'once' }, headers);
    expect([reused.status, reused.body.code]).toEqual([409, 'idempotency_key_reused']);
    expect(await books()).toEqual(before);
    expect(await balance(a)).toEqual({ available: 600, pending: 0 });
    expect(await balance(b)).toEqual({ available: 400, pending: 0 });
    // A refusal is replayed as the same refusal, even once the amount would fit.
    const overKey = key();
    const over = await reverse(original, { amount: 500, reason: 'over' }, overKey);
    expect([over.status, over.body.code]).toEqual([422, 'amount_above_reversible']);
    expect((await deposit(b, 1)).status).toBe(201);
    const overAgain = await reverse(original, { amount: 500, reason: 'over' }, overKey);
    expect([overAgain.status, overAgain.body.code, overAgain.headers['idempotent-replayed']]).toEqual([
      422,
      'amount_above_reversible',
      'true',
    ]);
  });

  it('an end user confined to its customer is refused (403 insufficient_scope), even for a transfer into its own account', async () => {
    const cus = await s.http.call('/v1/customers', {
      token: client.token,
      body: { full_name: 'Ada A', email: `ada${randomUUID()}@example.com` },
    });
    const own = (await s.http.call('/v1/accounts', { token: client.token, body: { customer_id: cus.body.id, currency: 'EUR' } })).body
      .id as string;
    const payer = await openAccount(client, 500);
    const original = await posted(payer, own, 500);
    const email = `ada-${randomUUID()}@acme.example`;
    const password = 'correct horse battery staple';
    await s.server.services.identity.users.create({ tenant: 'acme', email, password, role: 'customer', customerId: cus.body.id });
    const app = await registerFapiClient(s, 'acme', ['accounts:read', 'transfers:read', 'transfers:write']);
    const t = await tokenFor(s, app, { email, password }, 'accounts:read transfers:read transfers:write');
    const path = `/v1/transfers/${original}/reversals`;
    const asUser = async (p: string, method: string, body?: unknown) =>
      s.http.call(p, {
        method,
        headers: { authorization: `DPoP ${t.token}`, dpop: await dpopProof(t.dpop, method, `${s.url}${p}`, t.token), ...key() },
        ...(body === undefined ? {} : { body }),
      });
    // The token works: the end user reads its own account.
    expect((await asUser(`/v1/accounts/${own}`, 'GET')).status).toBe(200);
    const before = await books();
    const res = await asUser(path, 'POST', { reason: 'give it back' });
    expect([res.status, res.body.code]).toEqual([403, 'insufficient_scope']);
    expect(await books()).toEqual(before);
  });

  it('10 concurrent partial reversals of one transfer: only what fits passes, the reversed total is exactly the 201s and never above the original', async () => {
    const amounts = [300, 300, 300, 300, 250, 250, 200, 150, 100, 100];
    for (let round = 0; round < 3; round++) {
      const a = await openAccount(client, 5_000);
      // B holds more than the original: only the reversible total, not B's funds, limits the reversals.
      const b = await openAccount(client, 5_000);
      const original = await posted(a, b, 1_000);
      const eventsBefore = await reversedEvents();
      const results = await Promise.all(amounts.map((amount, i) => reverse(original, { amount, reason: `race ${round}.${i}` })));
      const ok = results.filter((r) => r.status === 201);
      const refused = results.filter((r) => r.status !== 201);
      for (const r of refused) expect([r.status, r.body.code]).toEqual([422, 'amount_above_reversible']);
      const okTotal = ok.reduce((sum, r) => sum + (r.body.amount as number), 0);
      expect(ok.length).toBeGreaterThanOrEqual(3);
      expect(okTotal).toBeLessThanOrEqual(1_000);
      expect(await reversedTotal(original)).toBe(BigInt(okTotal));
      // Each refusal is one that did not fit even in what remains now (what remained then was more).
      for (const r of refused) expect(amounts[results.indexOf(r)]).toBeGreaterThan(1_000 - okTotal);
      expect(await balance(a)).toEqual({ available: 4_000 + okTotal, pending: 0 });
      expect(await balance(b)).toEqual({ available: 6_000 - okTotal, pending: 0 });
      // One transfer.reversed per reversal that passed, none for a refusal.
      const events = (await reversedEvents()).slice(eventsBefore.length);
      expect(events.map((e) => e.id).sort()).toEqual(ok.map((r) => r.body.id).sort());
      for (const r of ok) expect(await auditOf(r.body.id)).toMatchObject({ reversal_of: original, amount: r.body.amount });
    }
    await assertBooksBalance();
  });

  it('reversals racing transfers out of the destination and into the source: no deadlock, no overdraft, nothing over-reversed', async () => {
    const a = await openAccount(client, 2_000);
    const b = await openAccount();
    const c = await openAccount();
    const original = await posted(a, b, 1_000);
    const results = await Promise.all([
      ...Array.from({ length: 6 }, (_, i) =>
        reverse(original, { amount: 200, reason: `race ${i}` }).then((r) => ({ what: 'reversal', r })),
      ),
      ...Array.from({ length: 6 }, () => transfer(b, c, 100).then((r) => ({ what: 'out of b', r }))),
      ...Array.from({ length: 4 }, () => transfer(a, b, 50).then((r) => ({ what: 'into b', r }))),
      ...Array.from({ length: 4 }, () => transfer(c, a, 1).then((r) => ({ what: 'c to a', r }))),
    ]);
    for (const { what, r } of results) {
      if (r.status === 201) continue;
      expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(422);
      expect(what === 'reversal' ? ['amount_above_reversible', 'insufficient_funds'] : ['insufficient_funds']).toContain(r.body.code);
    }
    const okOf = (what: string) =>
      results.filter((x) => x.what === what && x.r.status === 201).reduce((n, x) => n + (x.r.body.amount as number), 0);
    const reversed = okOf('reversal');
    expect(await reversedTotal(original)).toBe(BigInt(reversed));
    expect(reversed).toBeLessThanOrEqual(1_000);
    expect(okOf('into b')).toBe(200);
    expect(await balance(b)).toEqual({ available: 1_000 + 200 - reversed - okOf('out of b'), pending: 0 });
    expect(await balance(a)).toEqual({ available: 1_000 - 200 + reversed + okOf('c to a'), pending: 0 });
    await assertBooksBalance();
  });
});
