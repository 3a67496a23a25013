// Holds (docs/contract.md §9): two-phase money. Creating one passes every rule a transfer passes
// (ledger.lockAndCheck: accounts, amount, funds, floor, velocity — so holds count towards the
// velocity rules) and moves the amount from the source's available to its pending balance, in one
// transaction under the accounts' locks. A capture posts a transfer of up to that amount and
// releases the rest; a void or the expiry (sweeper.ts) releases it all. Each ends the hold.
//
// Exactly one of capture, void and expiry wins: each locks the hold row first and acts only on a
// hold that is still pending and not past expires_at (the sweeper only on one past it). Locks are
// taken hold first, then accounts in id order, on every path, so no two of them can deadlock.
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import { AppError } from '../errors.js';
import { newId } from '../lib/ids.js';
import { actorOf, type AuditContext, type Ledger, type TransferRow } from '../ledger/ledger-service.js';
import { toJsonAmount } from '../ledger/money.js';
import type { Database, Sql } from '../storage/types.js';
import { recordEvent } from '../events/outbox.js';

export type HoldStatus = 'pending' | 'captured' | 'voided' | 'expired';

export interface HoldRow {
  id: string;
  tenant_id: string;
  source_account_id: string;
  destination_account_id: string;
  amount: bigint;
  captured_amount: bigint;
  currency: string;
  status: HoldStatus;
  description: string | null;
  metadata: string | null;
  client_id: string;
  transfer_id: string | null;
  expires_at: bigint;
  created_at: bigint;
  settled_at: bigint | null;
}

export const HOLD_COLUMNS =
  'id, tenant_id, source_account_id, destination_account_id, amount, captured_amount, currency, status, description, metadata, client_id, transfer_id, expires_at, created_at, settled_at';

/** The contract's bounds for `expires_in_seconds` (one minute to 30 days; a week by default). */
export const HOLD_EXPIRY = { min: 60, max: 2_592_000, default: 604_800 } as const;

const iso = (ms: bigint | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export function holdView(h: HoldRow) {
  return {
    id: h.id,
    status: h.status,
    source_account_id: h.source_account_id,
    destination_account_id: h.destination_account_id,
    amount: toJsonAmount(h.amount),
    captured_amount: toJsonAmount(h.captured_amount),
    currency: h.currency,
    description: h.description,
    metadata: h.metadata === null ? null : (JSON.parse(h.metadata) as Record<string, string>),
    transfer_id: h.transfer_id,
    expires_at: iso(h.expires_at) as string,
    created_at: iso(h.created_at) as string,
    settled_at: iso(h.settled_at),
  };
}

export interface HoldInput {
  tenantId: string;
  clientId: string;
  sourceId: string;
  destinationId: string;
  amount: bigint;
  currency: string;
  expiresInSeconds: number;
  description?: string | undefined;
  metadata?: Record<string, string> | undefined;
  context?: AuditContext | undefined;
}

/** Moves `amount` of a hold from the source's pending back to its available balance. */
export async function releaseHeld(tx: Sql, accountId: string, amount: bigint): Promise<void> {
  const released = await tx.run('UPDATE accounts SET available = available + $1, pending = pending - $1 WHERE id = $2 AND pending >= $1', [
    amount,
    accountId,
  ]);
  // pending is the sum of the account's pending holds: less than one of them is a broken ledger.
  if (released !== 1) throw new Error(`hold release: account ${accountId} holds less than ${amount} pending`);
}

export function createHolds({ db, ledger, audit }: { db: Database; ledger: Ledger; audit?: AuditLog | undefined }) {
  /** The hold, locked, if it is of this tenant; a foreign one reads as missing (docs/contract.md §4). */
  async function lockHold(tx: Sql, tenantId: string, id: string): Promise<HoldRow> {
    const hold = await tx.one<HoldRow>(`SELECT ${HOLD_COLUMNS} FROM holds WHERE id = $1 AND tenant_id = $2 ${db.forUpdate}`, [
      id,
      tenantId,
    ]);
    if (!hold) throw new AppError('not_found', 'Hold not found');
    return hold;
  }

  /** Still pending, and not past its expiry (then it is the sweeper's, whatever the status column says for a moment). */
  function assertPending(hold: HoldRow, now: number): void {
    if (hold.status !== 'pending' || Number(hold.expires_at) <= now) throw new AppError('hold_not_pending');
  }

  async function settle(tx: Sql, hold: HoldRow, status: HoldStatus, captured: bigint, transferId: string | null, now: number) {
    const settled = await tx.run(
      "UPDATE holds SET status = $2, captured_amount = $3, transfer_id = $4, settled_at = $5 WHERE id = $1 AND status = 'pending'",
      [hold.id, status, captured, transferId, now],
    );
    // The row lock makes this 1; the condition is the guard that holds even without it.
    if (settled !== 1) throw new AppError('hold_not_pending');
    return { ...hold, status, captured_amount: captured, transfer_id: transferId, settled_at: BigInt(now) };
  }

  return {
    async create(tx: Sql, input: HoldInput): Promise<HoldRow> {
      const { source, destination } = await ledger.lockAndCheck(tx, { ...input, kind: 'transfer' });
      // The guard that holds even without the lock: it cannot take available below zero.
      const moved = await tx.run(
        "UPDATE accounts SET available = available - $1, pending = pending + $1 WHERE id = $2 AND kind = 'customer' AND available >= $1",
        [input.amount, source.id],
      );
      if (moved !== 1) throw new AppError('insufficient_funds');
      const now = Date.now();
      const hold: HoldRow = {
        id: newId('hold'),
        tenant_id: input.tenantId,
        source_account_id: source.id,
        destination_account_id: destination.id,
        amount: input.amount,
        captured_amount: 0n,
        currency: input.currency,
        status: 'pending',
        description: input.description ?? null,
        metadata: input.metadata ? JSON.stringify(input.metadata) : null,
        client_id: input.clientId,
        transfer_id: null,
        expires_at: BigInt(now + input.expiresInSeconds * 1000),
        created_at: BigInt(now),
        settled_at: null,
      };
      await tx.run(`INSERT INTO holds (${HOLD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`, [
        hold.id,
        hold.tenant_id,
        hold.source_account_id,
        hold.destination_account_id,
        hold.amount,
        hold.captured_amount,
        hold.currency,
        hold.status,
        hold.description,
        hold.metadata,
        hold.client_id,
        hold.transfer_id,
        hold.expires_at,
        hold.created_at,
        hold.settled_at,
      ]);
      await audit?.record(
        {
          action: AUDIT_ACTIONS.holdCreated,
          outcome: 'success',
          tenantId: input.tenantId,
          ...actorOf(input.clientId, input.context),
          target: hold.id,
          details: {
            amount: Number(input.amount),
            currency: input.currency,
            source_account_id: source.id,
            destination_account_id: destination.id,
          },
        },
        tx,
      );
      await recordEvent(tx, { tenantId: hold.tenant_id, type: 'hold.created', data: holdView(hold) });
      return hold;
    },

    /** Posts `amount` (all by default) of a pending hold as a transfer and releases the rest. */
    async capture(
      tx: Sql,
      input: {
        tenantId: string;
        clientId: string;
        holdId: string;
        amount?: bigint | undefined;
        context?: AuditContext | undefined;
        /** Refuses a caller who may not see this hold (an end user's), once it is locked. */
        visible?: ((hold: HoldRow) => Promise<void>) | undefined;
      },
    ): Promise<{ hold: HoldRow; transfer: TransferRow }> {
      const hold = await lockHold(tx, input.tenantId, input.holdId);
      await input.visible?.(hold);
      const now = Date.now();
      assertPending(hold, now);
      const amount = input.amount ?? hold.amount;
      if (amount > hold.amount) throw new AppError('amount_above_hold', `This hold holds ${hold.amount} (minor units of ${hold.currency})`);
      // Hold row, then both accounts in id order (as a transfer takes them), then the release and
      // the posting: the released funds are available again for exactly this posting.
      await ledger.lockPair(tx, hold.tenant_id, hold.source_account_id, hold.destination_account_id);
      await releaseHeld(tx, hold.source_account_id, hold.amount);
      const transfer = await ledger.post(tx, {
        tenantId: hold.tenant_id,
        clientId: input.clientId,
        kind: 'transfer',
        sourceId: hold.source_account_id,
        destinationId: hold.destination_account_id,
        amount,
        currency: hold.currency,
        description: hold.description ?? undefined,
        metadata: hold.metadata === null ? undefined : (JSON.parse(hold.metadata) as Record<string, string>),
        context: input.context,
        heldBy: hold.id,
      });
      const captured = await settle(tx, hold, 'captured', amount, transfer.id, now);
      await audit?.record(
        {
          action: AUDIT_ACTIONS.holdCaptured,
          outcome: 'success',
          tenantId: hold.tenant_id,
          ...actorOf(input.clientId, input.context),
          target: hold.id,
          details: { amount: Number(amount), released: Number(hold.amount - amount), transfer_id: transfer.id },
        },
        tx,
      );
      await recordEvent(tx, { tenantId: hold.tenant_id, type: 'hold.captured', data: holdView(captured) });
      return { hold: captured, transfer };
    },

    /** Releases a pending hold in full. */
    async void(input: {
      tenantId: string;
      clientId: string;
      holdId: string;
      reason?: string | undefined;
      context?: AuditContext | undefined;
    }): Promise<HoldRow> {
      return db.transaction(async (tx) => {
        const hold = await lockHold(tx, input.tenantId, input.holdId);
        const now = Date.now();
        assertPending(hold, now);
        await releaseHeld(tx, hold.source_account_id, hold.amount);
        const voided = await settle(tx, hold, 'voided', 0n, null, now);
        await audit?.record(
          {
            action: AUDIT_ACTIONS.holdVoided,
            outcome: 'success',
            tenantId: hold.tenant_id,
            ...actorOf(input.clientId, input.context),
            target: hold.id,
            // The caller's words, bounded by the schema: not personal data by contract, kept short.
            details: { released: Number(hold.amount), ...(input.reason === undefined ? {} : { reason: input.reason.slice(0, 200) }) },
          },
          tx,
        );
        await recordEvent(tx, { tenantId: hold.tenant_id, type: 'hold.voided', data: holdView(voided) });
        return voided;
      });
    },

    async get(tenantId: string, id: string): Promise<HoldRow | undefined> {
      return db.one<HoldRow>(`SELECT ${HOLD_COLUMNS} FROM holds WHERE id = $1 AND tenant_id = $2`, [id, tenantId]);
    },

    /** The holds on one account (as source or destination), oldest first. */
    async listForAccount(tenantId: string, accountId: string, limit: number, after: string | undefined): Promise<HoldRow[]> {
      return db.query<HoldRow>(
        `SELECT ${HOLD_COLUMNS} FROM holds
         WHERE tenant_id = $1 AND (source_account_id = $2 OR destination_account_id = $2) AND (CAST($3 AS TEXT) IS NULL OR id > $3)
         ORDER BY id LIMIT $4`,
        [tenantId, accountId, after ?? null, limit + 1],
      );
    },
  };
}

export type Holds = ReturnType<typeof createHolds>;
