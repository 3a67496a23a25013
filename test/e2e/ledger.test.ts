// The tour of issue 2 and the ledger's guarantees under concurrency, on both engines.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines } from '../support/databases.js';
import { startTestServer, type TestServer } from './harness.js';

describeEngines('ledger through the API', (engine) => {
  let s: TestServer;
  let client: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    s = await startTestServer(engine);
    client = await s.newClient('acme');
  });
  afterAll(async () => s?.close());

  async function openAccount(currency = 'EUR') {
    const cus = await s.http.call('/v1/customers', {
      token: client.token,
      body: { full_name: 'Grace Hopper', email: `g${Math.random()}@example.com` },
    });
    const acc = await s.http.call('/v1/accounts', { token: client.token, body: { customer_id: cus.body.id, currency } });
    expect(acc.status).toBe(201);
    return acc.body.id as string;
  }
  async function deposit(accountId: string, amount: number, key = `dep-${Math.random()}`) {
    return s.http.call('/v1/deposits', {
      token: client.token,
      headers: { 'idempotency-key': key },
      body: { account_id: accountId, amount, currency: 'EUR', reference: 'seed' },
    });
  }
  function transfer(source: string, destination: string, amount: number, key: string) {
    return s.http.call('/v1/transfers', {
      token: client.token,
      headers: { 'idempotency-key': key },
      body: { source_account_id: source, destination_account_id: destination, amount, currency: 'EUR', description: 'rent' },
    });
  }
  async function available(id: string): Promise<number> {
    return (await s.http.call(`/v1/accounts/${id}`, { token: client.token })).body.balance.available;
  }
  async function ledgerSums() {
    return s.database.db.query<{ tenant_id: string; currency: string; total: bigint; n: bigint }>(
      'SELECT tenant_id, currency, SUM(amount) AS total, COUNT(*) AS n FROM entries GROUP BY tenant_id, currency',
    );
  }

  it('runs the tour: customer, two accounts, deposit, transfer, replay, entries, balances', async () => {
    const cus = await s.http.call('/v1/customers', {
      token: client.token,
      body: { full_name: 'Ada Lovelace', email: 'Ada@Example.com', national_id: 'GB-123456789', phone: '+442071234567' },
    });
    expect(cus.status).toBe(201);
    expect(cus.body).toMatchObject({ full_name: 'Ada Lovelace', national_id_last4: '6789', status: 'active' });
    expect(cus.body).not.toHaveProperty('national_id');
    const a = await s.http.call('/v1/accounts', { token: client.token, body: { customer_id: cus.body.id, currency: 'EUR' } });
    const b = await s.http.call('/v1/accounts', { token: client.token, body: { customer_id: cus.body.id, currency: 'EUR' } });
    expect(a.body).toMatchObject({ customer_id: cus.body.id, currency: 'EUR', balance: { available: 0, pending: 0 }, status: 'open' });

    const dep = await deposit(a.body.id, 10000);
    expect(dep.status).toBe(201);
    expect(dep.body).toMatchObject({ kind: 'deposit', status: 'posted', amount: 10000, destination_account_id: a.body.id });

    const first = await transfer(a.body.id, b.body.id, 2500, 'tour-1');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ status: 'posted', amount: 2500, currency: 'EUR', description: 'rent' });
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const replay = await transfer(a.body.id, b.body.id, 2500, 'tour-1');
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);

    const entries = await s.http.call(`/v1/accounts/${a.body.id}/entries`, { token: client.token });
    expect(entries.body.data.map((e: { amount: number; balance_after: number }) => [e.amount, e.balance_after])).toEqual([
      [10000, 10000],
      [-2500, 7500],
    ]);
    expect(await available(a.body.id)).toBe(7500);
    expect(await available(b.body.id)).toBe(2500);

    const found = await s.http.call('/v1/customers?email=ada@example.com', { token: client.token });
    expect(found.body.data.map((c: { id: string }) => c.id)).toEqual([cus.body.id]);
    const got = await s.http.call(`/v1/transfers/${first.body.id}`, { token: client.token });
    expect(got.body).toEqual(first.body);
    const listed = await s.http.call(`/v1/transfers?account_id=${b.body.id}`, { token: client.token });
    expect(listed.body.data.map((t: { id: string }) => t.id)).toEqual([first.body.id]);
  });

  it('same key with another body → 409 idempotency_key_reused, nothing moves', async () => {
    const a = await openAccount();
    const b = await openAccount();
    await deposit(a, 1000);
    expect((await transfer(a, b, 100, 'reuse-1')).status).toBe(201);
    const reused = await transfer(a, b, 200, 'reuse-1');
    expect(reused.status).toBe(409);
    expect(reused.body.code).toBe('idempotency_key_reused');
    expect([await available(a), await available(b)]).toEqual([900, 100]);
  });

  it('a refused transfer is replayed as the same refusal', async () => {
    const a = await openAccount();
    const b = await openAccount();
    const first = await transfer(a, b, 5, 'broke-1');
    expect(first.body.code).toBe('insufficient_funds');
    await deposit(a, 1000);
    const again = await transfer(a, b, 5, 'broke-1');
    expect(again.status).toBe(422);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await available(a)).toBe(1000);
  });

  // @control OWASP-API6
  it('concurrent requests with one Idempotency-Key create exactly one transfer', async () => {
    const a = await openAccount();
    const b = await openAccount();
    await deposit(a, 5000);
    const results = await Promise.all(Array.from({ length: 20 }, () => transfer(a, b, 700, 'same-key-race')));
    const created = results.filter((r) => r.status === 201);
    const inUse = results.filter((r) => r.status === 409);
    expect(created.length + inUse.length).toBe(20);
    expect(inUse.every((r) => r.body.code === 'idempotency_key_in_use' && r.headers['retry-after'] === '1')).toBe(true);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    expect([await available(a), await available(b)]).toEqual([4300, 700]);
    const rows = await s.database.db.query('SELECT id FROM transfers WHERE source_account_id = $1', [a]);
    expect(rows).toHaveLength(1);
  });

  it('many concurrent transfers that together exceed the balance never overdraw it', async () => {
    const a = await openAccount();
    const sinks = [await openAccount(), await openAccount(), await openAccount()];
    await deposit(a, 10_000);
    const results = await Promise.all(
      Array.from({ length: 45 }, (_, i) => transfer(a, sinks[i % 3] as string, 300, `race-${engine}-${i}`)),
    );
    const ok = results.filter((r) => r.status === 201).length;
    const refused = results.filter((r) => r.status === 422 && r.body.code === 'insufficient_funds').length;
    expect({ ok, refused }).toEqual({ ok: 33, refused: 12 });
    expect(await available(a)).toBe(100);
    const sinkTotal = (await Promise.all(sinks.map(available))).reduce((x, y) => x + y, 0);
    expect(sinkTotal).toBe(9900);
    // Two-way race between the same accounts (lock ordering: no deadlock, no lost update).
    const [x, y] = sinks as [string, string, string];
    const before = (await available(x)) + (await available(y));
    await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? transfer(x, y, 1, `xy-${i}`) : transfer(y, x, 1, `yx-${i}`))));
    expect((await available(x)) + (await available(y))).toBe(before);
  });

  it('for every tenant and currency the entries sum to zero, and balances match their entries', async () => {
    const sums = await ledgerSums();
    expect(sums.length).toBeGreaterThan(0);
    for (const row of sums) expect(BigInt(row.total)).toBe(0n);
    const mismatched = await s.database.db.query(
      `SELECT a.id FROM accounts a LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM entries GROUP BY account_id) e
       ON e.account_id = a.id WHERE a.available <> COALESCE(e.total, 0)`,
    );
    expect(mismatched).toEqual([]);
    const negative = await s.database.db.query("SELECT id FROM accounts WHERE kind = 'customer' AND available < 0");
    expect(negative).toEqual([]);
  });

  it('pages through lists with limit and starting_after', async () => {
    const a = await openAccount();
    const b = await openAccount();
    await deposit(a, 100);
    for (let i = 0; i < 5; i++) await transfer(a, b, 1, `page-${engine}-${i}`);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&starting_after=${cursor}` : '';
      const page = await s.http.call(`/v1/accounts/${a}/entries?limit=2${q}`, { token: client.token });
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((e: { id: string }) => e.id));
      cursor = page.body.next_cursor;
      expect(page.body.has_more).toBe(cursor !== null);
    } while (cursor);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    const bad = await s.http.call(`/v1/accounts/${a}/entries?limit=101`, { token: client.token });
    expect(bad.body.code).toBe('validation_failed');
  });
});
