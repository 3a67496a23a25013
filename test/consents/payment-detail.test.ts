// The payment detail's amount rules (RFC 9396 amounts are decimal strings): exactly the currency's
// number of decimals, positive, within the ledger's range; and minor units round-trip.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { decimalOf, minorUnitsOf } from '../../src/ledger/money.js';
import { consentIdOf, parsePaymentInitiation, PaymentDetailError } from '../../src/consents/payment-detail.js';

it('reads amounts in the currency exponent and refuses every other spelling', () => {
  expect(minorUnitsOf('25.00', 'EUR')).toBe(2500n);
  expect(minorUnitsOf('0.01', 'EUR')).toBe(1n);
  expect(minorUnitsOf('1200', 'JPY')).toBe(1200n);
  for (const bad of ['25', '25.0', '25.000', '025.00', '-1.00', '+1.00', '1e2', ' 1.00', '1.00 ', '0.00', '1,00', '']) {
    expect(minorUnitsOf(bad, 'EUR'), bad).toBeUndefined();
  }
  expect(minorUnitsOf('10.00', 'JPY')).toBeUndefined();
  expect(minorUnitsOf('0', 'JPY')).toBeUndefined();
  expect(minorUnitsOf('90071992547409.92', 'EUR')).toBeUndefined(); // 2^53 minor units: one above the maximum
  expect(minorUnitsOf('90071992547409.91', 'EUR')).toBe(9007199254740991n);
});

it('minor units round-trip through the decimal notation', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: 9007199254740991n }), fc.constantFrom('EUR', 'JPY', 'USD', 'ISK'), (minor, currency) => {
      expect(minorUnitsOf(decimalOf(minor, currency), currency)).toBe(minor);
    }),
  );
});

it('parses a payment_initiation strictly', () => {
  const acc = (c: string) => `acc_${c.repeat(26)}`;
  const ok = { type: 'payment_initiation', instructed_amount: { currency: 'EUR', amount: '1.50' }, creditor_account_id: acc('a') };
  expect(parsePaymentInitiation(ok)).toEqual({ currency: 'EUR', amount: 150n, creditorAccountId: acc('a'), debtorAccountId: undefined });
  const refused = [
    { ...ok, type: 'payment' },
    { ...ok, creditor_account_id: 'acc_x' },
    { ...ok, debtor_account_id: acc('a') },
    { ...ok, instructed_amount: { currency: 'EUR', amount: '1.50', extra: 1 } },
    { ...ok, instructed_amount: ['EUR', '1.50'] },
    { ...ok, locations: ['https://x'] },
    null,
    [ok],
  ];
  for (const detail of refused) expect(() => parsePaymentInitiation(detail), JSON.stringify(detail)).toThrow(PaymentDetailError);
});

it('a token carries one granted payment consent or none; anything else is refused (null)', () => {
  const granted = { type: 'payment_initiation', consent_id: `con_${'0'.repeat(26)}` };
  expect(consentIdOf(undefined)).toBeUndefined();
  expect(consentIdOf([granted])).toBe(granted.consent_id);
  for (const bad of [[], [granted, granted], [{ type: 'payment_initiation' }], [{ ...granted, type: 'other' }], granted, 'x']) {
    expect(consentIdOf(bad)).toBeNull();
  }
});
