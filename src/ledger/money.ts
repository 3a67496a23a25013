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
