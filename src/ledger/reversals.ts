// Reversals (docs/contract.md §9): money of a posted transfer (or deposit) going back, all of what
// remains or part of it, as a posting of kind 'reversal' from the original's destination to its
// source. A reversal is itself never reversed, and the reversals of one transfer together never
// exceed its amount.
//
// Two reversals of one transfer at once must not both fit in what remains: each locks the
// original's row first (PostgreSQL FOR UPDATE; SQLite's write transaction is the lock) and only
// then adds up the reversals already posted, so the second one counts the first. At READ
// COMMITTED that sum is a statement after the lock was granted: it sees what the lock's previous
// holder committed. Lock order: the transfer row, then both accounts in id order (ledger.post →
// lockPair), as on every other path that takes a transfer or hold row and then accounts.
//
// The posting passes the checks every movement passes (accounts open, of the currency, and the
// funds: 422 insufficient_funds when the destination no longer holds the money), but not the
// maximum and the velocity rules (see lockAndCheck). Its audit event (transfer.reverse, with
// reversal_of) and its event (transfer.reversed) are written by post(), in the same transaction.
import { AppError } from '../errors.js';
import type { Sql } from '../storage/types.js';
import type { AuditContext, Ledger, TransferRow } from './ledger-service.js';

export interface ReversalInput {
  tenantId: string;
  clientId: string;
  /** The transfer to reverse. */
  transferId: string;
  /** Minor units; all that remains reversible when omitted. */
  amount?: bigint | undefined;
  /** The caller's words; the reversal's description. */
  reason: string;
  context?: AuditContext | undefined;
}

/** Posts the reversal inside tx (the request's idempotency transaction). Throws the refusal. */
export async function reverseTransfer(ledger: Ledger, tx: Sql, input: ReversalInput): Promise<TransferRow> {
  const original = await ledger.lockTransfer(tx, input.tenantId, input.transferId);
  if (original.kind === 'reversal') throw new AppError('not_reversible', 'A reversal cannot itself be reversed');
  const remaining = original.amount - (await ledger.reversedTotal(tx, original.id));
  const amount = input.amount ?? remaining;
  if (remaining <= 0n) throw new AppError('amount_above_reversible', 'This transfer has already been reversed in full');
  if (amount > remaining) {
    throw new AppError(
      'amount_above_reversible',
      `${remaining} of this transfer's ${original.amount} (minor units of ${original.currency}) remains reversible`,
    );
  }
  const reversal = await ledger.post(tx, {
    tenantId: original.tenant_id,
    clientId: input.clientId,
    kind: 'reversal',
    reversalOf: original.id,
    sourceId: original.destination_account_id,
    destinationId: original.source_account_id,
    amount,
    currency: original.currency,
    description: input.reason,
    context: input.context,
  });
  return reversal;
}
