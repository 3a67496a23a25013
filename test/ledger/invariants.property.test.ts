// Property test of the ledger's invariants, on both engines: whatever sequence of deposits and
// transfers (valid or not, sequential or concurrent), every tenant/currency sums to zero, no
// customer balance is negative, every balance equals the sum of its entries, and a refused
// posting changes nothing.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createLedger, type Ledger } from '../../src/ledger/ledger-service.js';
import { newId } from '../../src/lib/ids.js';
import { createTestDatabase, describeEngines, type TestDatabase } from '../support/databases.js';
import { seedTenantCustomer } from '../support/ledger-seed.js';

describeEngines('ledger invariants (property)', (engine) => {
  let t: TestDatabase;
  let ledger: Ledger;
  const tenantId = newId('ten');
  const accounts: string[] = [];

  beforeAll(async () => {
    t = await createTestDatabase(engine);
    ledger = createLedger({ db: t.db });
    const customer = await seedTenantCustomer(t.db, tenantId, `prop-${engine}`);
    for (const currency of ['EUR', 'EUR', 'EUR', 'USD']) accounts.push((await ledger.createAccount(tenantId, customer, currency)).id);
  });
  afterAll(async () => t?.dispose());

  const op = fc.oneof(
    fc.record({
      kind: fc.constant('deposit' as const),
      to: fc.nat(3),
      amount: fc.bigInt(1n, 5000n),
      currency: fc.constantFrom('EUR', 'USD'),
    }),
    fc.record({
      kind: fc.constant('transfer' as const),
      from: fc.nat(3),
      to: fc.nat(3),
      amount: fc.bigInt(1n, 4000n),
      currency: fc.constantFrom('EUR', 'USD'),
    }),
  );

  type Op =
    | { kind: 'deposit'; to: number; amount: bigint; currency: string }
    | { kind: 'transfer'; from: number; to: number; amount: bigint; currency: string };

  async function apply(o: Op): Promise<string> {
    try {
      await t.db.transaction(async (tx) => {
        if (o.kind === 'deposit') {
          await ledger.deposit(tx, {
            tenantId,
            clientId: 'prop',
            destinationId: accounts[o.to] as string,
            amount: o.amount,
            currency: o.currency,
          });
        } else {
          await ledger.post(tx, {
            tenantId,
            clientId: 'prop',
            kind: 'transfer',
            sourceId: accounts[o.from] as string,
            destinationId: accounts[o.to] as string,
            amount: o.amount,
            currency: o.currency,
          });
        }
      });
      return 'posted';
    } catch (err) {
      if (err instanceof AppError) return err.code;
      throw err;
    }
  }

  async function checkInvariants() {
    const sums = await t.db.query<{ total: bigint }>('SELECT SUM(amount) AS total FROM entries WHERE tenant_id = $1 GROUP BY currency', [
      tenantId,
    ]);
    for (const s of sums) expect(BigInt(s.total)).toBe(0n);
    const negative = await t.db.query("SELECT id FROM accounts WHERE kind = 'customer' AND available < 0");
    expect(negative).toEqual([]);
    const drift = await t.db.query(
      `SELECT a.id FROM accounts a LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM entries GROUP BY account_id) e
       ON e.account_id = a.id WHERE a.tenant_id = $1 AND a.available <> COALESCE(e.total, 0)`,
      [tenantId],
    );
    expect(drift).toEqual([]);
  }

  it('hold for any sequence of operations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        for (const o of ops) {
          const before = await t.db.query('SELECT id, available FROM accounts WHERE tenant_id = $1 ORDER BY id', [tenantId]);
          const outcome = await apply(o);
          if (outcome !== 'posted') {
            const after = await t.db.query('SELECT id, available FROM accounts WHERE tenant_id = $1 ORDER BY id', [tenantId]);
            expect(after).toEqual(before); // a refusal changes nothing
          }
        }
        await checkInvariants();
      }),
      { numRuns: engine === 'sqlite' ? 40 : 15 },
    );
  });

  it('hold when the operations run concurrently', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 30 }), async (ops) => {
        await Promise.all(ops.map(apply));
        await checkInvariants();
      }),
      { numRuns: engine === 'sqlite' ? 20 : 8 },
    );
  });
});
