// Payment consents (docs/contract.md §10): what a customer allowed one app to pay, once. Granted on
// the consent page (identity/interactions), bound to the OAuth grant it was given in, carried in the
// grant's access tokens as authorization_details, and enforced by the ledger: a transfer under it
// locks the consent row, matches it and marks it consumed in the posting's own transaction, so of
// any number of concurrent attempts exactly one posts. Locks: the consent first, then the accounts
// (in id order, as every money path); no other path locks a consent and an account together.
// A revocation or the expiry ends the grant in the same transaction: its tokens stop at once.
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import { AppError } from '../errors.js';
import { endGrant } from '../identity/oidc-adapter.js';
import { newId } from '../lib/ids.js';
import type { Principal } from '../lib/principal.js';
import { actorOf, type AuditContext } from '../ledger/ledger-service.js';
import { decimalOf } from '../ledger/money.js';
import { announced } from '../storage/change-feed.js';
import type { Database, Sql } from '../storage/types.js';
import { PAYMENT_INITIATION, PaymentDetailError, type PaymentInitiation } from './payment-detail.js';

/** How long a consent can be used after it is given: a payment consent is for a payment made now. */
export const CONSENT_TTL_MS = 60 * 60_000;

export type ConsentStatus = 'authorised' | 'consumed' | 'revoked' | 'expired';

export interface ConsentRow {
  id: string;
  tenant_id: string;
  client_id: string;
  user_id: string;
  grant_id: string;
  currency: string;
  amount: bigint;
  creditor_account_id: string;
  debtor_account_id: string | null;
  status: ConsentStatus;
  transfer_id: string | null;
  created_at: bigint;
  expires_at: bigint;
  settled_at: bigint | null;
}

const COLUMNS =
  'id, tenant_id, client_id, user_id, grant_id, currency, amount, creditor_account_id, debtor_account_id, status, transfer_id, created_at, expires_at, settled_at';

const iso = (ms: bigint | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

/** A consent past its expiry reads as expired at once, before the sweeper has marked it. */
function statusNow(c: ConsentRow, now = Date.now()): ConsentStatus {
  return c.status === 'authorised' && Number(c.expires_at) <= now ? 'expired' : c.status;
}

export function consentView(c: ConsentRow) {
  return {
    id: c.id,
    type: PAYMENT_INITIATION,
    status: statusNow(c),
    client_id: c.client_id,
    instructed_amount: { currency: c.currency, amount: decimalOf(c.amount, c.currency) },
    creditor_account_id: c.creditor_account_id,
    debtor_account_id: c.debtor_account_id,
    transfer_id: c.transfer_id,
    created_at: iso(c.created_at) as string,
    expires_at: iso(c.expires_at) as string,
    settled_at: iso(c.settled_at),
  };
}

/** The transfer a consent-bearing token asks for. */
export interface PaymentRequest {
  sourceId: string;
  destinationId: string;
  amount: bigint;
  currency: string;
}

interface AccountFacts {
  customer_id: string | null;
  kind: string;
  currency: string;
  status: string;
}

export function createConsents({ db, audit }: { db: Database; audit?: AuditLog | undefined }) {
  const account = (sql: Sql, tenantId: string, id: string) =>
    sql.one<AccountFacts>('SELECT customer_id, kind, currency, status FROM accounts WHERE tenant_id = $1 AND id = $2', [tenantId, id]);

  /** A consent this principal may see: a customer only its own, anyone else with the scope its tenant's. */
  const ownerClause = (principal: Principal) =>
    principal.role === 'customer' ? { sql: ' AND user_id = $3', params: [principal.userId ?? '\0none'] } : { sql: '', params: [] };

  async function lockForPayment(tx: Sql, principal: Principal & { consentId: string }) {
    const consent = await tx.one<ConsentRow>(`SELECT ${COLUMNS} FROM consents WHERE id = $1 AND tenant_id = $2 ${db.forUpdate}`, [
      principal.consentId,
      principal.tenantId,
    ]);
    // The token names the consent, but only the app and the user it was given to can use it.
    if (!consent || consent.client_id !== principal.clientId || consent.user_id !== principal.userId) {
      throw new AppError('consent_mismatch', 'The consent this token names is not this token’s');
    }
    return consent;
  }

  return {
    /**
     * At PAR: the accounts a payment names, in the client's tenant. The creditor must be an open
     * customer account of the payment's currency, and so must the debtor when one is named (whose
     * owner is checked once the customer has signed in: debtorIsCustomers).
     */
    async checkRequest(tenantId: string, p: PaymentInitiation): Promise<void> {
      const creditor = await account(db, tenantId, p.creditorAccountId);
      if (!creditor || creditor.kind !== 'customer' || creditor.status !== 'open')
        throw new PaymentDetailError('creditor_account_id is not an open account of this tenant');
      if (creditor.currency !== p.currency)
        throw new PaymentDetailError('creditor_account_id is not an account in the instructed currency');
      if (p.debtorAccountId === undefined) return;
      const debtor = await account(db, tenantId, p.debtorAccountId);
      if (!debtor || debtor.kind !== 'customer' || debtor.status !== 'open')
        throw new PaymentDetailError('debtor_account_id is not an open account of this tenant');
      if (debtor.currency !== p.currency) throw new PaymentDetailError('debtor_account_id is not an account in the instructed currency');
    },

    /** On the consent page: a named debtor account must be the signed-in customer's own. */
    async debtorIsCustomers(tenantId: string, customerId: string, p: PaymentInitiation): Promise<boolean> {
      if (p.debtorAccountId === undefined) return true;
      const debtor = await account(db, tenantId, p.debtorAccountId);
      return debtor?.customer_id === customerId;
    },

    /** Records the consent the customer just gave, bound to its grant; audited in the same transaction. */
    async grant(input: {
      id: string;
      tenantId: string;
      clientId: string;
      userId: string;
      grantId: string;
      payment: PaymentInitiation;
      ip?: string | undefined;
    }): Promise<void> {
      const now = Date.now();
      const p = input.payment;
      await db.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO consents (id, tenant_id, client_id, user_id, grant_id, type, currency, amount, creditor_account_id,
             debtor_account_id, status, transfer_id, created_at, expires_at, settled_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'authorised', NULL, $11, $12, NULL)`,
          [
            input.id,
            input.tenantId,
            input.clientId,
            input.userId,
            input.grantId,
            PAYMENT_INITIATION,
            p.currency,
            p.amount,
            p.creditorAccountId,
            p.debtorAccountId ?? null,
            now,
            now + CONSENT_TTL_MS,
          ],
        );
        await audit?.record(
          {
            action: AUDIT_ACTIONS.consentGranted,
            outcome: 'success',
            tenantId: input.tenantId,
            clientId: input.clientId,
            userId: input.userId,
            ip: input.ip,
            target: input.id,
            details: { amount: Number(p.amount), currency: p.currency, creditor_account_id: p.creditorAccountId },
          },
          tx,
        );
      });
    },

    newId: () => newId('con'),

    /**
     * In the posting's transaction, before the posting: the consent locked and matched against
     * the transfer (payee, currency, at most the instructed amount, the debtor when named), then
     * its state. Mismatch first: a request outside the consent is that, whatever the consent's state.
     */
    async authorizePayment(tx: Sql, principal: Principal & { consentId: string }, t: PaymentRequest): Promise<ConsentRow> {
      const consent = await lockForPayment(tx, principal);
      if (t.destinationId !== consent.creditor_account_id) throw new AppError('consent_mismatch', 'The payee is not the consent’s');
      if (t.currency !== consent.currency) throw new AppError('consent_mismatch', 'The currency is not the consent’s');
      if (t.amount > consent.amount) throw new AppError('consent_mismatch', 'The amount is above the consent’s');
      if (consent.debtor_account_id !== null && t.sourceId !== consent.debtor_account_id)
        throw new AppError('consent_mismatch', 'The paying account is not the consent’s');
      const status = statusNow(consent);
      if (status === 'consumed') throw new AppError('consent_exhausted');
      if (status !== 'authorised') throw new AppError('consent_expired');
      return consent;
    },

    /** In the same transaction, after the posting: the consent is spent on this transfer. */
    async markConsumed(tx: Sql, consent: ConsentRow, transferId: string, context: AuditContext | undefined): Promise<void> {
      const now = Date.now();
      const changed = await tx.run(
        "UPDATE consents SET status = 'consumed', transfer_id = $2, settled_at = $3 WHERE id = $1 AND status = 'authorised'",
        [consent.id, transferId, now],
      );
      if (changed !== 1) throw new Error(`consent ${consent.id} changed under its lock`);
      await audit?.record(
        {
          action: AUDIT_ACTIONS.consentConsumed,
          outcome: 'success',
          tenantId: consent.tenant_id,
          ...actorOf(consent.client_id, context),
          target: consent.id,
          details: { transfer_id: transferId },
        },
        tx,
      );
    },

    async list(principal: Principal, limit: number, startingAfter: string | undefined): Promise<ConsentRow[]> {
      const owner = ownerClause(principal);
      const after = owner.params.length + 3;
      return db.query<ConsentRow>(
        `SELECT ${COLUMNS} FROM consents WHERE tenant_id = $1 AND id > $2${owner.sql} ORDER BY id LIMIT $${after}`,
        [principal.tenantId, startingAfter ?? '', ...owner.params, limit + 1],
      );
    },

    async get(principal: Principal, id: string): Promise<ConsentRow> {
      const owner = ownerClause(principal);
      const row = await db.one<ConsentRow>(`SELECT ${COLUMNS} FROM consents WHERE tenant_id = $1 AND id = $2${owner.sql}`, [
        principal.tenantId,
        id,
        ...owner.params,
      ]);
      if (!row) throw new AppError('not_found', 'Consent not found');
      return row;
    },

    /**
     * Revokes a consent not yet used, and ends its grant in the same transaction: every token of
     * the grant stops at once (announced to this node's standing cache after the commit).
     */
    async revoke(principal: Principal, id: string, context: AuditContext | undefined): Promise<ConsentRow> {
      const owner = ownerClause(principal);
      return announced(
        db.standingChanges,
        db.transaction(async (tx) => {
          const consent = await tx.one<ConsentRow>(
            `SELECT ${COLUMNS} FROM consents WHERE tenant_id = $1 AND id = $2${owner.sql} ${db.forUpdate}`,
            [principal.tenantId, id, ...owner.params],
          );
          if (!consent) throw new AppError('not_found', 'Consent not found');
          const status = statusNow(consent);
          if (status !== 'authorised') throw new AppError('conflict', `The consent is already ${status}`);
          const now = Date.now();
          await tx.run("UPDATE consents SET status = 'revoked', settled_at = $2 WHERE id = $1", [id, now]);
          await endGrant(tx, consent.grant_id);
          await audit?.record(
            {
              action: AUDIT_ACTIONS.consentRevoked,
              outcome: 'success',
              tenantId: consent.tenant_id,
              ...actorOf(principal.clientId, context),
              target: id,
              details: { consent_client_id: consent.client_id },
            },
            tx,
          );
          return { ...consent, status: 'revoked' as const, settled_at: BigInt(now) };
        }),
      );
    },

    /**
     * The sweeper's batch: consents past their expiry, marked expired, their grants ended, each
     * audited, in one transaction (PostgreSQL: SKIP LOCKED, so nodes take different ones and a
     * payment in flight keeps its own). Resolves to how many.
     */
    async expireDue(now = Date.now(), batch = 100): Promise<number> {
      if (!(await db.one("SELECT 1 AS one FROM consents WHERE status = 'authorised' AND expires_at <= $1 LIMIT 1", [now]))) return 0;
      return announced(
        db.standingChanges,
        db.transaction(async (tx) => {
          const due = await tx.query<ConsentRow>(
            `SELECT ${COLUMNS} FROM consents WHERE status = 'authorised' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 ${db.forUpdateSkipLocked}`,
            [now, batch],
          );
          for (const c of due) {
            await tx.run("UPDATE consents SET status = 'expired', settled_at = $2 WHERE id = $1 AND status = 'authorised'", [c.id, now]);
            await endGrant(tx, c.grant_id);
            await audit?.record(
              { action: AUDIT_ACTIONS.consentExpired, outcome: 'success', tenantId: c.tenant_id, target: c.id, details: {} },
              tx,
            );
          }
          return due.length;
        }),
      );
    },
  };
}

export type Consents = ReturnType<typeof createConsents>;
