// The double-entry ledger. Every posting moves an amount from one account to another of the same
// currency and writes two immutable entries (−amount, +amount), so for every tenant and currency
// the entries sum to zero. Each tenant has one settlement account per currency: deposits come from
// it (it may go negative: it mirrors money held outside the platform). Customer accounts never go
// below zero: the debit is a conditional UPDATE under the row lock (PostgreSQL) or the single
// write lock (SQLite), so concurrent transfers cannot overdraw and no update is lost.
import { AppError } from '../errors.js';
import { newId } from '../lib/ids.js';
import type { Database, Sql } from '../storage/types.js';
import { MAX_AMOUNT, toJsonAmount } from './money.js';
import { DEFAULT_MONEY_LIMIT_SETTINGS, limitsFor, type MoneyLimitSettings } from './money-limits.js';
import type { Velocity } from './velocity.js';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import { recordEvent, type EventType } from '../events/outbox.js';

/** Who asked, for the audit event (request facts the service cannot see itself). */
export interface AuditContext {
  ip?: string | undefined;
  requestId?: string | undefined;
  userId?: string | undefined;
}

/** The audit event's actor fields: the client, and what the request said of its user and address. */
export function actorOf(clientId: string, context: AuditContext | undefined) {
  return { clientId, userId: context?.userId, ip: context?.ip, requestId: context?.requestId };
}

export interface AccountRow {
  id: string;
  tenant_id: string;
  customer_id: string | null;
  kind: 'customer' | 'settlement';
  currency: string;
  available: bigint;
  pending: bigint;
  status: 'open' | 'closed';
  created_at: bigint;
  /** Set while the account is frozen: no debit, hold or capture (src/containment). */
  frozen_at: bigint | null;
}

/** An account as lockPair returns it: with its tenant's money freeze. */
type LockedAccount = AccountRow & { tenant_frozen_at: bigint | null };

export type TransferKind = 'transfer' | 'deposit' | 'reversal';

export interface TransferRow {
  id: string;
  tenant_id: string;
  kind: TransferKind;
  source_account_id: string;
  destination_account_id: string;
  amount: bigint;
  currency: string;
  description: string | null;
  reference: string | null;
  metadata: string | null;
  status: 'posted';
  client_id: string;
  created_at: bigint;
  /** The transfer a reversal reverses (./reversals.ts); null for every other kind. */
  reversal_of: string | null;
}

export interface EntryRow {
  id: string;
  transfer_id: string;
  account_id: string;
  amount: bigint;
  currency: string;
  balance_after: bigint;
  created_at: bigint;
}

/** The audit action each kind of posting records. */
const POSTING_ACTIONS = {
  transfer: AUDIT_ACTIONS.transferCreated,
  deposit: AUDIT_ACTIONS.depositCreated,
  reversal: AUDIT_ACTIONS.transferReversed,
} as const satisfies Record<TransferKind, string>;

/** The event (src/events/outbox.ts) each kind of posting writes, in its own transaction. */
const POSTING_EVENTS = {
  transfer: 'transfer.posted',
  deposit: 'deposit.posted',
  reversal: 'transfer.reversed',
} as const satisfies Record<TransferKind, EventType>;

const ACCOUNT_COLUMNS = 'id, tenant_id, customer_id, kind, currency, available, pending, status, created_at, frozen_at';
const TRANSFER_COLUMNS =
  'id, tenant_id, kind, source_account_id, destination_account_id, amount, currency, description, reference, metadata, status, client_id, created_at, reversal_of';

export function accountView(a: AccountRow) {
  return {
    id: a.id,
    customer_id: a.customer_id,
    kind: a.kind,
    currency: a.currency,
    balance: { available: toJsonAmount(a.available), pending: toJsonAmount(a.pending) },
    status: a.status,
    frozen: a.frozen_at !== null,
    created_at: new Date(Number(a.created_at)).toISOString(),
  };
}

export function transferView(t: TransferRow) {
  return {
    id: t.id,
    kind: t.kind,
    status: t.status,
    source_account_id: t.source_account_id,
    destination_account_id: t.destination_account_id,
    amount: toJsonAmount(t.amount),
    currency: t.currency,
    description: t.description,
    reference: t.reference,
    metadata: t.metadata === null ? null : (JSON.parse(t.metadata) as Record<string, string>),
    reversal_of: t.reversal_of,
    created_at: new Date(Number(t.created_at)).toISOString(),
  };
}

export function entryView(e: EntryRow) {
  return {
    id: e.id,
    transfer_id: e.transfer_id,
    account_id: e.account_id,
    amount: toJsonAmount(e.amount),
    currency: e.currency,
    balance_after: toJsonAmount(e.balance_after),
    created_at: new Date(Number(e.created_at)).toISOString(),
  };
}

export interface PostingInput {
  tenantId: string;
  clientId: string;
  kind: TransferKind;
  sourceId: string;
  destinationId: string;
  amount: bigint;
  currency: string;
  description?: string | undefined;
  reference?: string | undefined;
  metadata?: Record<string, string> | undefined;
  context?: AuditContext | undefined;
  /**
   * The hold this posting captures: its maximum and velocity rules were applied when the hold was
   * made (the hold counted then), so they are not applied again.
   */
  heldBy?: string | undefined;
  /** kind 'reversal' only, and required there: the transfer it reverses (./reversals.ts). */
  reversalOf?: string | undefined;
}

/** What a movement is, for the checks every one of them passes (postings and holds alike). */
export type MovementInput = Pick<PostingInput, 'tenantId' | 'kind' | 'sourceId' | 'destinationId' | 'amount' | 'currency' | 'heldBy'>;

export function createLedger({
  db,
  velocity,
  audit,
  moneyLimits = DEFAULT_MONEY_LIMIT_SETTINGS,
}: {
  db: Database;
  velocity?: Velocity | undefined;
  audit?: AuditLog | undefined;
  moneyLimits?: MoneyLimitSettings | undefined;
}) {
  /** Both accounts of a posting, locked in one statement, in id order on every path (no deadlock). */
  async function lockPair(tx: Sql, tenantId: string, a: string, b: string): Promise<Map<string, LockedAccount>> {
    // PostgreSQL locks the rows as the sorted output leaves the ORDER BY; SQLite's transaction
    // already holds the write lock. The tenant's money freeze comes along in the same statement.
    const rows = await tx.query<LockedAccount>(
      `SELECT ${ACCOUNT_COLUMNS}, (SELECT money_frozen_at FROM tenants WHERE id = $1) AS tenant_frozen_at
       FROM accounts WHERE tenant_id = $1 AND id IN ($2, $3) ORDER BY id ${db.forUpdate}`,
      [tenantId, a, b],
    );
    return new Map(rows.map((r) => [r.id, r]));
  }

  async function ensureSettlementAccount(tx: Sql, tenantId: string, currency: string): Promise<string> {
    const existing = await tx.one<{ id: string }>(
      "SELECT id FROM accounts WHERE tenant_id = $1 AND currency = $2 AND kind = 'settlement'",
      [tenantId, currency],
    );
    if (existing) return existing.id;
    await tx.run(
      `INSERT INTO accounts (id, tenant_id, customer_id, kind, currency, available, pending, status, created_at)
       VALUES ($1, $2, NULL, 'settlement', $3, 0, 0, 'open', $4) ON CONFLICT DO NOTHING`,
      [newId('acc'), tenantId, currency, Date.now()],
    );
    const row = await tx.one<{ id: string }>("SELECT id FROM accounts WHERE tenant_id = $1 AND currency = $2 AND kind = 'settlement'", [
      tenantId,
      currency,
    ]);
    if (!row) throw new Error('settlement account missing after insert');
    return row.id;
  }

  /**
   * Locks both accounts of a movement and applies every rule a movement of money must pass: the
   * accounts (of the tenant, open, of the currency), the amount, the funds, the settlement floor
   * and the velocity rules. Throws the refusal; returns the locked accounts.
   */
  async function lockAndCheck(tx: Sql, input: MovementInput): Promise<{ source: AccountRow; destination: AccountRow }> {
    if (input.sourceId === input.destinationId) throw new AppError('same_account');
    if (input.amount <= 0n || input.amount > MAX_AMOUNT) throw new AppError('validation_failed', 'amount out of range');
    const limits = limitsFor(moneyLimits, input.tenantId, input.currency);
    const maximum = input.kind === 'deposit' ? limits.maxDeposit : limits.maxTransfer;
    // A reversal is money going back, at most the original's amount, which passed the maximum of
    // its own kind when it was posted (a deposit's maximum may be above a transfer's, and limits
    // may have been lowered since): the maximum is not applied to it again, nor velocity below.
    if (input.heldBy === undefined && input.kind !== 'reversal' && input.amount > maximum)
      throw new AppError('amount_above_maximum', `One ${input.kind} may move at most ${maximum} (minor units of ${input.currency})`);
    const accounts = await lockPair(tx, input.tenantId, input.sourceId, input.destinationId);
    const source = accounts.get(input.sourceId);
    const destination = accounts.get(input.destinationId);
    // Another tenant's account answers exactly like one that does not exist (docs/contract.md §4).
    if (!source || !destination) throw new AppError('not_found', 'Account not found');
    if (input.kind === 'transfer' && (source.kind !== 'customer' || destination.kind !== 'customer')) {
      throw new AppError('not_found', 'Account not found');
    }
    // Containment first (src/containment): a frozen tenant moves no money at all; a frozen account
    // pays nothing out (credits still land: money owed to it is not stopped).
    if (source.tenant_frozen_at !== null) throw new AppError('tenant_frozen');
    if (source.frozen_at !== null) throw new AppError('account_frozen');
    if (source.status !== 'open' || destination.status !== 'open') throw new AppError('account_closed');
    if (source.currency !== input.currency || destination.currency !== input.currency) throw new AppError('currency_mismatch');
    if (source.kind === 'customer' && source.available < input.amount) throw new AppError('insufficient_funds');
    // Under the source's row lock, before any balance changes: a settlement account goes negative
    // (it mirrors money held outside), but never below its floor.
    if (source.kind === 'settlement' && source.available - input.amount < limits.settlementFloor) {
      throw new AppError(
        'settlement_floor_reached',
        `The ${input.currency} settlement account would go below its floor of ${limits.settlementFloor}`,
      );
    }
    if (destination.available + input.amount > MAX_AMOUNT || source.available - input.amount < -MAX_AMOUNT) {
      throw new AppError('validation_failed', 'The resulting balance would exceed the supported range');
    }
    // Velocity rules (issue 5) run here, under the source row lock and inside tx, so the check
    // and the posting commit or roll back together. Deposits are money in, reversals money
    // returning to where it came from (never more than went out): neither is limited here.
    if (input.kind === 'transfer' && velocity && input.heldBy === undefined) {
      await velocity.check(tx, { tenantId: input.tenantId, sourceId: source.id, currency: input.currency, amount: input.amount });
    }
    return { source, destination };
  }

  /** Posts one movement inside tx. Throws a domain AppError (and tx rolls back) when refused. */
  async function post(tx: Sql, input: PostingInput): Promise<TransferRow> {
    if ((input.kind === 'reversal') !== (input.reversalOf !== undefined)) throw new Error('post: reversalOf goes with kind reversal only');
    const { source, destination } = await lockAndCheck(tx, input);
    const now = Date.now();
    // Debit and credit in one statement. The debit's condition is the guard that holds even if a
    // lock were missing: it cannot take a customer balance below zero (and the table CHECK refuses
    // it too); when it fails only the credit row comes back, and the refusal rolls that back.
    const moved = await tx.query<{ id: string; available: bigint }>(
      `UPDATE accounts SET available = available + CASE WHEN id = $2 THEN -CAST($1 AS BIGINT) ELSE CAST($1 AS BIGINT) END
       WHERE (id = $2 AND (kind = 'settlement' OR available >= $1)) OR id = $3 RETURNING id, available`,
      [input.amount, source.id, destination.id],
    );
    const debited = moved.find((r) => r.id === source.id);
    const credited = moved.find((r) => r.id === destination.id);
    if (!debited) throw new AppError('insufficient_funds');
    if (!credited) throw new Error('credit failed');

    const transfer: TransferRow = {
      id: newId('tr'),
      tenant_id: input.tenantId,
      kind: input.kind,
      source_account_id: source.id,
      destination_account_id: destination.id,
      amount: input.amount,
      currency: input.currency,
      description: input.description ?? null,
      reference: input.reference ?? null,
      metadata: input.metadata ? JSON.stringify(input.metadata) : null,
      status: 'posted',
      client_id: input.clientId,
      created_at: BigInt(now),
      reversal_of: input.reversalOf ?? null,
    };
    await tx.run(`INSERT INTO transfers (${TRANSFER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, [
      transfer.id,
      transfer.tenant_id,
      transfer.kind,
      transfer.source_account_id,
      transfer.destination_account_id,
      transfer.amount,
      transfer.currency,
      transfer.description,
      transfer.reference,
      transfer.metadata,
      transfer.status,
      transfer.client_id,
      now,
      transfer.reversal_of,
    ]);
    // Both entries in one statement: the debit first, so entry order (seq) follows the money.
    await tx.run(
      `INSERT INTO entries (id, tenant_id, transfer_id, account_id, amount, currency, balance_after, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8), ($9, $2, $3, $10, $11, $6, $12, $8)`,
      [
        newId('ent'),
        input.tenantId,
        transfer.id,
        source.id,
        -input.amount,
        input.currency,
        debited.available,
        now,
        newId('ent'),
        destination.id,
        input.amount,
        credited.available,
      ],
    );
    // Same transaction as the posting: if the audit event cannot be written, no money moves.
    await audit?.record(
      {
        action: POSTING_ACTIONS[input.kind],
        outcome: 'success',
        tenantId: input.tenantId,
        ...actorOf(input.clientId, input.context),
        target: transfer.id,
        details: {
          amount: Number(input.amount),
          currency: input.currency,
          source_account_id: source.id,
          destination_account_id: destination.id,
          ...(input.heldBy === undefined ? {} : { hold_id: input.heldBy }),
          ...(input.reversalOf === undefined ? {} : { reversal_of: input.reversalOf }),
        },
      },
      tx,
    );
    await recordEvent(tx, { tenantId: input.tenantId, type: POSTING_EVENTS[input.kind], data: transferView(transfer) });
    return transfer;
  }

  return {
    post,
    lockPair,
    lockAndCheck,
    ensureSettlementAccount,

    /**
     * The transfer, locked (PostgreSQL: FOR UPDATE; SQLite's write transaction holds the lock
     * already), if it is of this tenant; a foreign one reads as missing (docs/contract.md §4).
     */
    async lockTransfer(tx: Sql, tenantId: string, id: string): Promise<TransferRow> {
      const transfer = await tx.one<TransferRow>(
        `SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE id = $1 AND tenant_id = $2 ${db.forUpdate}`,
        [id, tenantId],
      );
      if (!transfer) throw new AppError('not_found', 'Transfer not found');
      return transfer;
    },

    /** What the reversals of one transfer add up to (0 when it has none). */
    async reversedTotal(tx: Sql, transferId: string): Promise<bigint> {
      const row = await tx.one<{ total: bigint }>(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM transfers WHERE reversal_of = $1 AND kind = 'reversal'",
        [transferId],
      );
      return row?.total ?? 0n;
    },

    async createAccount(
      tenantId: string,
      customerId: string,
      currency: string,
      context?: AuditContext & { clientId?: string },
    ): Promise<AccountRow> {
      const row: AccountRow = {
        id: newId('acc'),
        tenant_id: tenantId,
        customer_id: customerId,
        kind: 'customer',
        currency,
        available: 0n,
        pending: 0n,
        status: 'open',
        created_at: BigInt(Date.now()),
        frozen_at: null,
      };
      await db.transaction(async (tx) => {
        await tx.run(`INSERT INTO accounts (${ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
          row.id,
          row.tenant_id,
          row.customer_id,
          row.kind,
          row.currency,
          row.available,
          row.pending,
          row.status,
          row.created_at,
          row.frozen_at,
        ]);
        await audit?.record(
          {
            action: AUDIT_ACTIONS.accountCreated,
            outcome: 'success',
            tenantId,
            clientId: context?.clientId,
            userId: context?.userId,
            ip: context?.ip,
            requestId: context?.requestId,
            target: row.id,
            details: { customer_id: customerId, currency },
          },
          tx,
        );
        await recordEvent(tx, { tenantId, type: 'account.created', data: accountView(row) });
      });
      return row;
    },

    async deposit(tx: Sql, input: Omit<PostingInput, 'kind' | 'sourceId'>): Promise<TransferRow> {
      const destination = await tx.one<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 AND tenant_id = $2`, [
        input.destinationId,
        input.tenantId,
      ]);
      if (!destination || destination.kind !== 'customer') throw new AppError('not_found', 'Account not found');
      if (destination.currency !== input.currency) throw new AppError('currency_mismatch');
      const settlement = await ensureSettlementAccount(tx, input.tenantId, input.currency);
      return post(tx, { ...input, kind: 'deposit', sourceId: settlement });
    },

    /** Inside a money handler pass its transaction: a read must never wait on the transaction it runs in. */
    async getAccount(tenantId: string, id: string, sql: Sql = db): Promise<AccountRow | undefined> {
      return sql.one<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 AND tenant_id = $2`, [id, tenantId]);
    },

    async listAccounts(tenantId: string, customerId: string | undefined, limit: number, after: string | undefined): Promise<AccountRow[]> {
      return db.query<AccountRow>(
        `SELECT ${ACCOUNT_COLUMNS} FROM accounts
         WHERE tenant_id = $1 AND kind = 'customer' AND (CAST($2 AS TEXT) IS NULL OR customer_id = $2) AND (CAST($3 AS TEXT) IS NULL OR id > $3)
         ORDER BY id LIMIT $4`,
        [tenantId, customerId ?? null, after ?? null, limit + 1],
      );
    },

    async getTransfer(tenantId: string, id: string): Promise<TransferRow | undefined> {
      return db.one<TransferRow>(`SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE id = $1 AND tenant_id = $2`, [id, tenantId]);
    },

    async listTransfers(
      tenantId: string,
      accountIds: string[] | undefined,
      limit: number,
      after: string | undefined,
    ): Promise<TransferRow[]> {
      if (accountIds === undefined) {
        return db.query<TransferRow>(
          `SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR id > $2) ORDER BY id LIMIT $3`,
          [tenantId, after ?? null, limit + 1],
        );
      }
      if (accountIds.length !== 1) throw new Error('listTransfers takes one account');
      return db.query<TransferRow>(
        `SELECT ${TRANSFER_COLUMNS} FROM transfers
         WHERE tenant_id = $1 AND (source_account_id = $2 OR destination_account_id = $2) AND (CAST($3 AS TEXT) IS NULL OR id > $3)
         ORDER BY id LIMIT $4`,
        [tenantId, accountIds[0] as string, after ?? null, limit + 1],
      );
    },

    async listEntries(accountId: string, limit: number, afterEntryId: string | undefined): Promise<EntryRow[]> {
      return db.query<EntryRow>(
        `SELECT id, transfer_id, account_id, amount, currency, balance_after, created_at FROM entries
         WHERE account_id = $1 AND (CAST($2 AS TEXT) IS NULL OR seq > (SELECT seq FROM entries WHERE id = $2 AND account_id = $1))
         ORDER BY seq LIMIT $3`,
        [accountId, afterEntryId ?? null, limit + 1],
      );
    },
  };
}

export type Ledger = ReturnType<typeof createLedger>;
