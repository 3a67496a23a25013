// money_limits on the real modules: the strict parser (defaults, one-line refusals, frozen), the
// most-specific-override lookup, and the ledger's posting on both engines: a movement above its
// maximum or past the settlement floor is refused before any balance changes, writes nothing and
// records no audit event, while the movement that lands exactly on a limit goes through.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, ConfigError } from '../../src/errors.js';
import type { AuditEventInput, AuditLog } from '../../src/audit/types.js';
import { createLedger, type Ledger } from '../../src/ledger/ledger-service.js';
import { DEFAULT_MONEY_LIMITS, limitsFor, parseMoneyLimits } from '../../src/ledger/money-limits.js';
import { newId } from '../../src/lib/ids.js';
import { createTestDatabase, describeEngines, type TestDatabase } from '../support/databases.js';

const TEN_A = `ten_${'a'.repeat(26)}`;
const TEN_B = `ten_${'b'.repeat(26)}`;

function refusal(raw: unknown): string | undefined {
  try {
    parseMoneyLimits(raw);
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.message;
  }
}

describe('parseMoneyLimits', () => {
  it('fills the defaults (10^11 per deposit and per transfer, settlement floor −10^15), frozen', () => {
    for (const raw of [undefined, null, {}]) {
      const s = parseMoneyLimits(raw);
      expect(s.defaults).toEqual({ maxDeposit: 100_000_000_000n, maxTransfer: 100_000_000_000n, settlementFloor: -1_000_000_000_000_000n });
      expect(s.overrides).toEqual([]);
      expect(Object.isFrozen(s) && Object.isFrozen(s.defaults) && Object.isFrozen(s.overrides)).toBe(true);
    }
    expect(Object.isFrozen(DEFAULT_MONEY_LIMITS)).toBe(true);
    const s = parseMoneyLimits({ max_deposit: 7, overrides: [{ currency: 'EUR', max_transfer: 3 }] });
    expect(s.defaults).toEqual({ ...DEFAULT_MONEY_LIMITS, maxDeposit: 7n });
    expect(Object.isFrozen(s.overrides[0])).toBe(true);
  });

  it('refuses a bad section with one line naming the key', () => {
    const cases: Array<[unknown, string]> = [
      [[], 'VAULTGATE_CONFIG: money_limits: must be a mapping'],
      [{ max_deposit: 1.5 }, 'VAULTGATE_CONFIG: money_limits.max_deposit: must be an integer 1..9007199254740991'],
      [{ max_transfer: '5' }, 'VAULTGATE_CONFIG: money_limits.max_transfer: must be an integer 1..9007199254740991'],
      [{ max_transfer: 9007199254740992 }, 'VAULTGATE_CONFIG: money_limits.max_transfer: must be an integer 1..9007199254740991'],
      [{ settlement_floor: -9007199254740992 }, 'VAULTGATE_CONFIG: money_limits.settlement_floor: must be an integer -9007199254740991..0'],
      [{ overrides: {} }, 'VAULTGATE_CONFIG: money_limits.overrides: must be a list'],
      [
        { overrides: [{ tenant: 'acme', max_deposit: 5 }] },
        'VAULTGATE_CONFIG: money_limits.overrides[0].tenant: must be a tenant id (ten_…)',
      ],
      [
        { overrides: [{ currency: 'EUR', max_deposit: 5, limit: 1 }] },
        'VAULTGATE_CONFIG: money_limits.overrides[0].limit: unknown key (allowed: tenant, currency, max_deposit, max_transfer, settlement_floor)',
      ],
      [
        { overrides: [{ currency: 'EUR' }] },
        'VAULTGATE_CONFIG: money_limits.overrides[0]: needs at least one of max_deposit, max_transfer, settlement_floor',
      ],
      [
        {
          overrides: [
            { currency: 'EUR', max_deposit: 5 },
            { currency: 'USD', max_deposit: -5 },
          ],
        },
        'VAULTGATE_CONFIG: money_limits.overrides[1].max_deposit: must be an integer 1..9007199254740991',
      ],
    ];
    for (const [raw, line] of cases) expect([raw, refusal(raw)]).toEqual([raw, line]);
  });

  it('limitsFor: the most specific override wins, field by field (tenant + currency, tenant, currency, defaults)', () => {
    const s = parseMoneyLimits({
      max_deposit: 1000,
      max_transfer: 900,
      settlement_floor: -5000,
      overrides: [
        { tenant: TEN_A, currency: 'EUR', max_deposit: 10 },
        { currency: 'EUR', max_deposit: 500, max_transfer: 400 },
        { tenant: TEN_A, max_deposit: 100, settlement_floor: -50 },
      ],
    });
    expect(limitsFor(s, TEN_A, 'EUR')).toEqual({ maxDeposit: 10n, maxTransfer: 400n, settlementFloor: -50n });
    expect(limitsFor(s, TEN_A, 'USD')).toEqual({ maxDeposit: 100n, maxTransfer: 900n, settlementFloor: -50n });
    expect(limitsFor(s, TEN_B, 'EUR')).toEqual({ maxDeposit: 500n, maxTransfer: 400n, settlementFloor: -5000n });
    expect(limitsFor(s, TEN_B, 'USD')).toEqual({ maxDeposit: 1000n, maxTransfer: 900n, settlementFloor: -5000n });
  });
});

describeEngines('ledger posting under money_limits', (engine) => {
  let t: TestDatabase;
  let ledger: Ledger;
  // The money events only (creating an account is audited too).
  const recorded: AuditEventInput[] = [];
  const audit: AuditLog = { record: async (event) => void (/^(deposit|transfer)\./.test(event.action) && recorded.push(event)) };
  const tenantId = newId('ten');
  let a: string;
  let b: string;

  beforeAll(async () => {
    t = await createTestDatabase(engine);
    ledger = createLedger({
      db: t.db,
      audit,
      moneyLimits: parseMoneyLimits({
        max_deposit: 1000,
        max_transfer: 300,
        settlement_floor: -1500,
        overrides: [{ tenant: tenantId, currency: 'USD', max_deposit: 10 }],
      }),
    });
    const now = Date.now();
    await t.db.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [tenantId, `limits-${engine}`, now]);
    const dk = newId('dk');
    await t.db.run('INSERT INTO data_keys (id, kek_version, wrapped, created_at) VALUES ($1, 1, NULL, $2)', [dk, now]);
    const customer = newId('cus');
    await t.db.run("INSERT INTO customers (id, tenant_id, data_key_id, status, created_at) VALUES ($1, $2, $3, 'active', $4)", [
      customer,
      tenantId,
      dk,
      now,
    ]);
    a = (await ledger.createAccount(tenantId, customer, 'EUR')).id;
    b = (await ledger.createAccount(tenantId, customer, 'EUR')).id;
  });
  afterAll(async () => t?.dispose());

  const deposit = (amount: bigint, currency = 'EUR', to = a) =>
    t.db.transaction((tx) => ledger.deposit(tx, { tenantId, clientId: 'cli_test', destinationId: to, amount, currency }));
  const transfer = (amount: bigint) =>
    t.db.transaction((tx) =>
      ledger.post(tx, { tenantId, clientId: 'cli_test', kind: 'transfer', sourceId: a, destinationId: b, amount, currency: 'EUR' }),
    );
  async function codeOf(p: Promise<unknown>): Promise<string> {
    try {
      await p;
      return 'posted';
    } catch (err) {
      if (err instanceof AppError) return err.code;
      throw err;
    }
  }
  async function books() {
    const accounts = await t.db.query<{ kind: string; available: bigint }>(
      'SELECT kind, available FROM accounts WHERE tenant_id = $1 ORDER BY kind, id',
      [tenantId],
    );
    const [entries] = await t.db.query<{ n: bigint }>('SELECT COUNT(*) AS n FROM entries WHERE tenant_id = $1', [tenantId]);
    const [transfers] = await t.db.query<{ n: bigint }>('SELECT COUNT(*) AS n FROM transfers WHERE tenant_id = $1', [tenantId]);
    return {
      balances: accounts.map((r) => `${r.kind}:${BigInt(r.available)}`),
      entries: Number(entries?.n),
      transfers: Number(transfers?.n),
      audited: recorded.length,
    };
  }

  // @control OWASP-API6
  it('refuses each limit before any balance changes; exactly at the limit goes through', async () => {
    expect(await codeOf(deposit(1001n))).toBe('amount_above_maximum');
    expect(await books()).toEqual({ balances: ['customer:0', 'customer:0'], entries: 0, transfers: 0, audited: 0 });

    expect(await codeOf(deposit(1000n))).toBe('posted');
    expect(await codeOf(deposit(500n))).toBe('posted');
    const atFloor = { balances: ['customer:1500', 'customer:0', 'settlement:-1500'], entries: 4, transfers: 2, audited: 2 };
    expect(await books()).toEqual(atFloor);

    // The settlement account is exactly at its floor: one more minor unit is refused.
    expect(await codeOf(deposit(1n))).toBe('settlement_floor_reached');
    expect(await codeOf(transfer(301n))).toBe('amount_above_maximum');
    expect(await books()).toEqual(atFloor);
    expect(recorded.map((e) => [e.action, e.outcome])).toEqual([
      ['deposit.create', 'success'],
      ['deposit.create', 'success'],
    ]);

    expect(await codeOf(transfer(300n))).toBe('posted');
    expect((await books()).balances).toEqual(['customer:1200', 'customer:300', 'settlement:-1500']);
  });

  it('applies the tenant + currency override to that currency only', async () => {
    const customer = (await t.db.query<{ customer_id: string }>('SELECT customer_id FROM accounts WHERE id = $1', [a]))[0]
      ?.customer_id as string;
    const usd = (await ledger.createAccount(tenantId, customer, 'USD')).id;
    expect(await codeOf(deposit(11n, 'USD', usd))).toBe('amount_above_maximum');
    expect(await codeOf(deposit(10n, 'USD', usd))).toBe('posted');
    expect((await ledger.getAccount(tenantId, usd))?.available).toBe(10n);
  });
});
