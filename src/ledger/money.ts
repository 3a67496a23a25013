// Money: integer minor units as bigint inside the code (never number arithmetic on amounts);
// JSON integers at the edge, 1 ≤ amount ≤ 2^53−1 (docs/contract.md §3).
import Type from 'typebox';
import { StringEnum } from '../gateway/schemas.js';

export const MAX_AMOUNT = 9007199254740991n;

export const amountSchema = Type.Integer({
  minimum: 1,
  maximum: 9007199254740991,
  description: 'Integer amount in the currency minor unit (e.g. cents)',
});

// ISO 4217 codes accepted. A closed list: an unknown code is refused rather than booked.
export const CURRENCIES = [
  'EUR',
  'USD',
  'GBP',
  'CHF',
  'JPY',
  'CAD',
  'AUD',
  'NZD',
  'SEK',
  'NOK',
  'DKK',
  'PLN',
  'CZK',
  'HUF',
  'RON',
  'BGN',
  'ISK',
  'SGD',
  'HKD',
  'CNY',
  'INR',
  'BRL',
  'MXN',
  'ZAR',
  'TRY',
  'ILS',
  'AED',
  'SAR',
  'KRW',
  'NGN',
  'KES',
] as const;

export const currencySchema = StringEnum(CURRENCIES, { description: 'ISO 4217 code, upper case' });

/** A bigint from the database as a JSON-safe number; balances are kept within 2^53−1. */
export function toJsonAmount(value: bigint): number {
  if (value > MAX_AMOUNT || value < -MAX_AMOUNT) throw new RangeError('amount out of JSON-safe range');
  return Number(value);
}

/** ISO 4217 minor-unit exponents of the accepted currencies: 2 unless listed (yen, won and króna have none). */
const ZERO_EXPONENT: ReadonlySet<string> = new Set(['JPY', 'KRW', 'ISK']);

export function currencyExponent(currency: string): 0 | 2 {
  return ZERO_EXPONENT.has(currency) ? 0 : 2;
}

export function isCurrency(value: unknown): value is (typeof CURRENCIES)[number] {
  return typeof value === 'string' && (CURRENCIES as readonly string[]).includes(value);
}

/**
 * A decimal amount as people write it ("25.00" EUR, "1200" JPY) in minor units, or undefined
 * unless it has exactly the currency's number of decimals (RFC 9396 payment amounts are strings
 * so no float ever rounds them) and is within 1 … 2^53−1 minor units.
 */
export function minorUnitsOf(amount: string, currency: (typeof CURRENCIES)[number]): bigint | undefined {
  const exponent = currencyExponent(currency);
  const pattern = exponent === 0 ? /^(0|[1-9][0-9]{0,15})$/ : /^(0|[1-9][0-9]{0,15})\.([0-9]{2})$/;
  const m = pattern.exec(amount);
  if (!m) return undefined;
  const minor = BigInt(`${m[1]}${m[2] ?? ''}`);
  return minor >= 1n && minor <= MAX_AMOUNT ? minor : undefined;
}

/** Minor units back in the currency's decimal notation ("2500" EUR → "25.00"). */
export function decimalOf(minor: bigint, currency: string): string {
  if (currencyExponent(currency) === 0) return minor.toString();
  const digits = minor.toString().padStart(3, '0');
  return `${digits.slice(0, -2)}.${digits.slice(-2)}`;
}
