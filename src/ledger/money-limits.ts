// The `money_limits` section of VAULTGATE_CONFIG: the largest single deposit and transfer, and the
// floor of settlement accounts, per tenant and currency. A settlement account mirrors money held
// outside the platform and may go negative, but not without bound: one absurd deposit (2^53−1)
// would otherwise drive it to the edge of the representable range and block every later deposit
// in that currency. Parsed strictly, like rate_limits: unknown keys and bad values stop the start.
import { ConfigError } from '../errors.js';
import { MAX_AMOUNT } from './money.js';

export interface MoneyLimits {
  /** Largest amount of one deposit, in minor units. */
  maxDeposit: bigint;
  /** Largest amount of one transfer, in minor units. */
  maxTransfer: bigint;
  /** A settlement account's balance never goes below this (≤ 0). */
  settlementFloor: bigint;
}

interface Override extends Partial<MoneyLimits> {
  tenant: string | undefined;
  currency: string | undefined;
}

export interface MoneyLimitSettings {
  readonly defaults: Readonly<MoneyLimits>;
  readonly overrides: readonly Readonly<Override>[];
}

// 10^11 minor units is a billion EUR in one movement; the floor lets 10,000 such deposits through.
export const DEFAULT_MONEY_LIMITS: Readonly<MoneyLimits> = Object.freeze({
  maxDeposit: 100_000_000_000n,
  maxTransfer: 100_000_000_000n,
  settlementFloor: -1_000_000_000_000_000n,
});

/** The settings when the config file has no `money_limits` section. */
export const DEFAULT_MONEY_LIMIT_SETTINGS: MoneyLimitSettings = Object.freeze({
  defaults: DEFAULT_MONEY_LIMITS,
  overrides: Object.freeze([]),
});

const KEYS = ['max_deposit', 'max_transfer', 'settlement_floor'] as const;

function fail(where: string, why: string): never {
  throw new ConfigError(`VAULTGATE_CONFIG: money_limits${where === '' ? '' : `.${where}`}: ${why}`);
}

function mapping(value: unknown, where: string, allowed: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(where, 'must be a mapping');
  for (const k of Object.keys(value))
    if (!allowed.includes(k)) fail(where === '' ? k : `${where}.${k}`, `unknown key (allowed: ${allowed.join(', ')})`);
  return value as Record<string, unknown>;
}

function limits(m: Record<string, unknown>, where: string): Partial<MoneyLimits> {
  const out: Partial<MoneyLimits> = {};
  const amount = (key: string): bigint => {
    const v = m[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail(`${where}${key}`, `must be an integer 1..${MAX_AMOUNT}`);
    return BigInt(v);
  };
  if (m.max_deposit !== undefined) out.maxDeposit = amount('max_deposit');
  if (m.max_transfer !== undefined) out.maxTransfer = amount('max_transfer');
  if (m.settlement_floor !== undefined) {
    const v = m.settlement_floor;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v > 0)
      fail(`${where}settlement_floor`, `must be an integer -${MAX_AMOUNT}..0`);
    out.settlementFloor = BigInt(v);
  }
  return out;
}

export function parseMoneyLimits(raw: unknown): MoneyLimitSettings {
  if (raw === undefined || raw === null) return DEFAULT_MONEY_LIMIT_SETTINGS;
  const m = mapping(raw, '', [...KEYS, 'overrides']);
  const defaults = { ...DEFAULT_MONEY_LIMITS, ...limits(m, '') };
  let overrides: Override[] = [];
  if (m.overrides !== undefined) {
    if (!Array.isArray(m.overrides)) fail('overrides', 'must be a list');
    overrides = m.overrides.map((item: unknown, i) => {
      const where = `overrides[${i}]`;
      const o = mapping(item, where, ['tenant', 'currency', ...KEYS]);
      if (o.tenant !== undefined && (typeof o.tenant !== 'string' || !/^ten_[0-9a-z]{26}$/.test(o.tenant)))
        fail(`${where}.tenant`, 'must be a tenant id (ten_…)');
      if (o.currency !== undefined && (typeof o.currency !== 'string' || !/^[A-Z]{3}$/.test(o.currency)))
        fail(`${where}.currency`, 'must be an upper-case ISO 4217 code');
      if (o.tenant === undefined && o.currency === undefined) fail(where, 'needs tenant, currency or both');
      const own = limits(o, `${where}.`);
      if (Object.keys(own).length === 0) fail(where, `needs at least one of ${KEYS.join(', ')}`);
      return Object.freeze({ tenant: o.tenant, currency: o.currency, ...own });
    });
  }
  return Object.freeze({ defaults: Object.freeze(defaults), overrides: Object.freeze(overrides) });
}

/** The limits for one tenant and currency: the most specific override wins, field by field. */
export function limitsFor(settings: MoneyLimitSettings, tenantId: string, currency: string): MoneyLimits {
  const specificity = (o: Override) => (o.tenant !== undefined ? 2 : 0) + (o.currency !== undefined ? 1 : 0);
  const matching = settings.overrides
    .filter((o) => (o.tenant === undefined || o.tenant === tenantId) && (o.currency === undefined || o.currency === currency))
    .sort((a, b) => specificity(a) - specificity(b));
  const result = { ...settings.defaults };
  for (const o of matching) {
    if (o.maxDeposit !== undefined) result.maxDeposit = o.maxDeposit;
    if (o.maxTransfer !== undefined) result.maxTransfer = o.maxTransfer;
    if (o.settlementFloor !== undefined) result.settlementFloor = o.settlementFloor;
  }
  return result;
}
