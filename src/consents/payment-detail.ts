// The one authorization details type vaultgate accepts (RFC 9396, docs/contract.md §10):
//   {"type":"payment_initiation","instructed_amount":{"currency":"EUR","amount":"25.00"},
//    "creditor_account_id":"acc_…","debtor_account_id"?:"acc_…"}
// Parsed strictly: no other field, the amount a decimal string with exactly the currency's number
// of decimals. What the accounts are (same tenant, the customer's own) is the consent service's
// question; this file only reads the shape.
import { currencyExponent, decimalOf, isCurrency, minorUnitsOf, type CURRENCIES } from '../ledger/money.js';

export const PAYMENT_INITIATION = 'payment_initiation' as const;

const ACCOUNT_ID = /^acc_[0-9a-z]{26}$/;
const FIELDS = new Set(['type', 'instructed_amount', 'creditor_account_id', 'debtor_account_id']);
const AMOUNT_FIELDS = new Set(['currency', 'amount']);

export interface PaymentInitiation {
  currency: (typeof CURRENCIES)[number];
  /** Minor units. */
  amount: bigint;
  creditorAccountId: string;
  debtorAccountId: string | undefined;
}

/** Why a detail is refused: the text goes to the client as the invalid_authorization_details description. */
export class PaymentDetailError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parsePaymentInitiation(detail: unknown): PaymentInitiation {
  if (!isObject(detail) || detail.type !== PAYMENT_INITIATION) throw new PaymentDetailError("type must be 'payment_initiation'");
  const unknown = Object.keys(detail).find((k) => !FIELDS.has(k));
  if (unknown !== undefined) throw new PaymentDetailError('unknown field in payment_initiation');
  const instructed = detail.instructed_amount;
  if (!isObject(instructed) || Object.keys(instructed).some((k) => !AMOUNT_FIELDS.has(k)))
    throw new PaymentDetailError('instructed_amount must be {"currency", "amount"}');
  const { currency, amount } = instructed;
  if (!isCurrency(currency)) throw new PaymentDetailError('instructed_amount.currency is not a supported ISO 4217 code');
  const minor = typeof amount === 'string' ? minorUnitsOf(amount, currency) : undefined;
  if (minor === undefined) {
    const decimals = currencyExponent(currency);
    throw new PaymentDetailError(`instructed_amount.amount must be a positive decimal string with ${decimals} decimals for ${currency}`);
  }
  const creditor = detail.creditor_account_id;
  if (typeof creditor !== 'string' || !ACCOUNT_ID.test(creditor)) throw new PaymentDetailError('creditor_account_id must be an account id');
  const debtor = detail.debtor_account_id;
  if (debtor !== undefined && (typeof debtor !== 'string' || !ACCOUNT_ID.test(debtor)))
    throw new PaymentDetailError('debtor_account_id must be an account id');
  if (debtor === creditor) throw new PaymentDetailError('debtor_account_id and creditor_account_id are the same account');
  return { currency, amount: minor, creditorAccountId: creditor, debtorAccountId: debtor };
}

/** The detail as it is granted and carried in the access token: the request's fields plus the consent's id. */
export function grantedDetail(p: PaymentInitiation, consentId: string): Record<string, unknown> {
  return {
    type: PAYMENT_INITIATION,
    instructed_amount: { currency: p.currency, amount: decimalOf(p.amount, p.currency) },
    creditor_account_id: p.creditorAccountId,
    ...(p.debtorAccountId === undefined ? {} : { debtor_account_id: p.debtorAccountId }),
    consent_id: consentId,
  };
}

const CONSENT_ID = /^con_[0-9a-z]{26}$/;

/**
 * The consent an access token's `authorization_details` carries: undefined when it carries none,
 * null when it carries something else than one granted payment_initiation (refuse the token).
 */
export function consentIdOf(details: unknown): string | undefined | null {
  if (details === undefined) return undefined;
  if (!Array.isArray(details) || details.length !== 1) return null;
  const [detail] = details as unknown[];
  if (!isObject(detail) || detail.type !== PAYMENT_INITIATION) return null;
  return typeof detail.consent_id === 'string' && CONSENT_ID.test(detail.consent_id) ? detail.consent_id : null;
}
