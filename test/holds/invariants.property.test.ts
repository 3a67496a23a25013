// Property test of the books with holds, on both engines (issue 14): for any sequence of
// deposits, transfers, holds, captures (whole or part), voids, expiry sweeps and reversals (whole or part) — valid or not,
// one after another or all at once — every tenant/currency sums to zero, no customer account goes
// below zero, each account's entries add up to available + pending, its pending is exactly its
// pending holds, every hold is in one state with that state's fields, and a refusal changes nothing.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createHolds, type Holds } from '../../src/holds/hold-service.js';
import { createHoldSweeper, type HoldSweeper } from '../../src/holds/sweeper.js';
import { createLedger, type Ledger } from '../../src/ledger/ledger-service.js';
import { reverseTransfer } from '../../src/ledger/reversals.js';
import { newId } from '../../src/lib/ids.js';
import { createTestDatabase, describeEngines, type TestDatabase } from '../support/databases.js';
import { seedTenantCustomer } from '../support/ledger-seed.js';

describeEngines('holds: invariants of the books (property)', (engine) => {
  let t: TestDatabase;
  let ledger: Ledger;
  let holds: Holds;
  let sweeper: HoldSweeper;
  const tenantId = newId('ten');
  const accounts: string[] = [];
  const made: string[] = [];
  const posted: string[] = [];
  /** What happened, per kind and outcome: the run must have exercised captures, voids and sweeps. */
  const seen = new Map<string, number>();

  beforeAll(async () => {
    t = await createTestDatabase(engine);
    ledger = createLedger({ db: t.db });
    holds = createHolds({ db: t.db, ledger });
    sweeper = createHoldSweeper({ db: t.db });
    const customer = await seedTenantCustomer(t.db, tenantId, `holds-prop-${engine}`);
    for (const currency of ['EUR', 'EUR', 'EUR', 'USD']) accounts.push((await ledger.createAccount(tenantId, customer, currency)).id);
  });
  afterAll(async () => t?.dispose());

  const account = fc.nat(3);
  // Weighted so that a run moves money often enough for holds to be made and settled.
  const op = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('deposit' as const), to: account, amount: fc.bigInt(1000n, 5000n) }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('transfer' as const), from: account, to: account, amount: fc.bigInt(1n, 3000n) }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('hold' as const),
        from: account,
        to: account,
        amount: fc.bigInt(1n, 3000n),
        currency: fc.constantFrom('EUR', 'EUR', 'EUR', 'USD'),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('capture' as const),
        which: fc.nat(40),
        amount: fc.option(fc.bigInt(1n, 3000n), { nil: undefined }),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('void' as const), which: fc.nat(40) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('reverse' as const),
        which: fc.nat(40),
        amount: fc.option(fc.bigInt(1n, 3000n), { nil: undefined }),
      }),
    },
  );
  type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

  async function apply(o: Op): Promise<string> {
    // Mostly one of the latest holds (still pending, likely); sometimes an old one or none at all.
    const id = (which: number) => made[Math.max(0, made.length - 1 - (which % 8))] ?? 'hold_00000000000000000000000000';
    try {
      switch (o.kind) {
        case 'reverse': {
          const original = posted[Math.max(0, posted.length - 1 - (o.which % 8))] ?? 'tr_00000000000000000000000000';
          const r = await t.db.transaction((tx) =>
            reverseTransfer(ledger, tx, { tenantId, clientId: 'prop', transferId: original, amount: o.amount, reason: 'prop' }),
          );
          posted.push(r.id);
          break;
        }
        case 'deposit':
          await t.db.transaction((tx) =>
            ledger.deposit(tx, { tenantId, clientId: 'prop', destinationId: accounts[o.to]!, amount: o.amount, currency: 'EUR' }),
          );
          break;
        case 'transfer': {
          const tr = await t.db.transaction((tx) =>
            ledger.post(tx, {
              tenantId,
              clientId: 'prop',
              kind: 'transfer',
              sourceId: accounts[o.from]!,
              destinationId: accounts[o.to]!,
              amount: o.amount,
              currency: 'EUR',
            }),
          );
          posted.push(tr.id);
          break;
        }
        case 'hold': {
          const h = await t.db.transaction((tx) =>
            holds.create(tx, {
              tenantId,
              clientId: 'prop',
              sourceId: accounts[o.from]!,
              destinationId: accounts[o.to]!,
              amount: o.amount,
              currency: o.currency,
              expiresInSeconds: 60,
            }),
          );
          made.push(h.id);
          break;
        }
        case 'capture':
          await t.db.transaction((tx) => holds.capture(tx, { tenantId, clientId: 'prop', holdId: id(o.which), amount: o.amount }));
          break;
        case 'void':
          await holds.void({ tenantId, clientId: 'prop', holdId: id(o.which) });
          break;
        case 'sweep':
          // As if a minute had passed: every pending hold is due.
          await sweeper.sweepOnce(Date.now() + 61_000);
          break;
      }
      seen.set(`${o.kind}:done`, (seen.get(`${o.kind}:done`) ?? 0) + 1);
      return 'done';
    } catch (err) {
      if (err instanceof AppError) {
        seen.set(`${o.kind}:${err.code}`, (seen.get(`${o.kind}:${err.code}`) ?? 0) + 1);
        return err.code;
      }
      throw err;
    }
  }

  const snapshot = async () => ({
    accounts: await t.db.query('SELECT id, available, pending FROM accounts WHERE tenant_id = $1 ORDER BY id', [tenantId]),
    holds: await t.db.query('SELECT id, status, captured_amount FROM holds WHERE tenant_id = $1 ORDER BY id', [tenantId]),
  });

  async function checkInvariants() {
    const sums = await t.db.query<{ total: bigint }>('SELECT SUM(amount) AS total FROM entries WHERE tenant_id = $1 GROUP BY currency', [
      tenantId,
    ]);
    for (const s of sums) expect(BigInt(s.total)).toBe(0n);
    const off = await t.db.query(
      `SELECT a.id FROM accounts a
         LEFT JOIN (SELECT source_account_id, SUM(amount) AS total FROM holds WHERE status = 'pending' GROUP BY source_account_id) h ON h.source_account_id = a.id
         LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM entries GROUP BY account_id) e ON e.account_id = a.id
       WHERE a.tenant_id = $1 AND (a.pending <> COALESCE(h.total, 0) OR a.available + a.pending <> COALESCE(e.total, 0)
         OR a.pending < 0 OR (a.kind = 'customer' AND a.available < 0))`,
      [tenantId],
    );
    expect(off).toEqual([]);
    const wrong = await t.db.query(
      `SELECT h.id FROM holds h LEFT JOIN transfers tr ON tr.id = h.transfer_id
       WHERE h.tenant_id = $1 AND NOT (
         (h.status = 'captured' AND tr.amount = h.captured_amount AND h.captured_amount > 0 AND h.settled_at IS NOT NULL)
         OR (h.status IN ('voided', 'expired') AND h.captured_amount = 0 AND h.transfer_id IS NULL AND h.settled_at IS NOT NULL)
         OR (h.status = 'pending' AND h.captured_amount = 0 AND h.transfer_id IS NULL AND h.settled_at IS NULL))`,
      [tenantId],
    );
    expect(wrong).toEqual([]);
  }

  it('hold for any sequence of operations, and a refusal changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 10, maxLength: 40 }), async (ops) => {
        for (const o of ops) {
          const before = await snapshot();
          const outcome = await apply(o);
          if (outcome !== 'done') expect(await snapshot()).toEqual(before);
        }
        await checkInvariants();
      }),
      // One sequence first that does every kind of operation successfully, so the coverage check
      // below never depends on what the random runs happened to draw.
      {
        numRuns: engine === 'sqlite' ? 40 : 15,
        examples: [
          [
            [
              { kind: 'deposit', to: 0, amount: 5000n },
              { kind: 'transfer', from: 0, to: 1, amount: 100n },
              { kind: 'hold', from: 0, to: 1, amount: 100n, currency: 'EUR' },
              { kind: 'capture', which: 0, amount: undefined },
              { kind: 'hold', from: 0, to: 1, amount: 100n, currency: 'EUR' },
              { kind: 'void', which: 0 },
              { kind: 'hold', from: 0, to: 1, amount: 100n, currency: 'EUR' },
              { kind: 'sweep' },
              { kind: 'reverse', which: 0, amount: 50n },
            ] as Op[],
          ],
        ],
      },
    );
    for (const kind of ['hold', 'capture', 'void', 'sweep', 'reverse']) expect(seen.get(`${kind}:done`) ?? 0).toBeGreaterThan(0);
  });

  it('hold when the operations run concurrently', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 30 }), async (ops) => {
        await Promise.all(ops.map(apply));
        await checkInvariants();
      }),
      { numRuns: engine === 'sqlite' ? 15 : 6 },
    );
  });
});
