// Containment (issue 14, item 7): when something is wrong, stop the money first and ask later. A
// frozen account pays nothing out — no debit, hold or capture (409 account_frozen); a tenant whose
// money is frozen moves none at all (409 tenant_frozen). The ledger reads both inside every
// posting's transaction, so a freeze holds on every node from its commit on; postings already
// running when it commits finish. Each freeze and unfreeze is audited with who and why.
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import { AppError } from '../errors.js';
import type { Database } from '../storage/types.js';

export interface Actor {
  clientId?: string | undefined;
  userId?: string | undefined;
  ip?: string | undefined;
  requestId?: string | undefined;
  /** 'cli' for a change made at the terminal, 'detector' for a rule's own action (no client, no request). */
  via?: 'cli' | 'detector' | undefined;
}

function auditFields(actor: Actor, reason: string | undefined) {
  const { via, ...who } = actor;
  const details = { ...(reason === undefined ? {} : { reason: reason.slice(0, 200) }), ...(via === undefined ? {} : { actor: via }) };
  return { ...who, ...(Object.keys(details).length > 0 ? { details } : {}) };
}

export function createFreezes({ db, audit }: { db: Database; audit?: AuditLog | undefined }) {
  async function setAccount(tenantId: string, accountId: string, frozen: boolean, reason: string | undefined, actor: Actor) {
    return db.transaction(async (tx) => {
      const current = await tx.one<{ frozen_at: bigint | null }>(
        `SELECT frozen_at FROM accounts WHERE id = $1 AND tenant_id = $2 AND kind = 'customer' ${db.forUpdate}`,
        [accountId, tenantId],
      );
      if (!current) throw new AppError('not_found', 'Account not found');
      // Already so: nothing changes and nothing is audited (a rule firing again, a retried request).
      if ((current.frozen_at !== null) === frozen) return;
      await tx.run('UPDATE accounts SET frozen_at = $2, frozen_reason = $3 WHERE id = $1', [
        accountId,
        frozen ? Date.now() : null,
        frozen ? (reason ?? null) : null,
      ]);
      await audit?.record(
        {
          action: frozen ? AUDIT_ACTIONS.accountFrozen : AUDIT_ACTIONS.accountUnfrozen,
          outcome: 'success',
          tenantId,
          target: accountId,
          ...auditFields(actor, reason),
        },
        tx,
      );
    });
  }

  async function setTenant(
    tenant: string,
    frozen: boolean,
    reason: string | undefined,
    actor: Actor,
  ): Promise<{ id: string; name: string }> {
    return db.transaction(async (tx) => {
      const row = await tx.one<{ id: string; name: string }>(`SELECT id, name FROM tenants WHERE id = $1 OR name = $1 ${db.forUpdate}`, [
        tenant,
      ]);
      if (!row) throw new AppError('not_found', 'Tenant not found');
      await tx.run('UPDATE tenants SET money_frozen_at = $2, money_frozen_reason = $3 WHERE id = $1', [
        row.id,
        frozen ? Date.now() : null,
        frozen ? (reason ?? null) : null,
      ]);
      await audit?.record(
        {
          action: frozen ? AUDIT_ACTIONS.tenantFrozen : AUDIT_ACTIONS.tenantUnfrozen,
          outcome: 'success',
          tenantId: row.id,
          target: row.id,
          ...auditFields(actor, reason),
        },
        tx,
      );
      return row;
    });
  }

  return {
    freezeAccount: (tenantId: string, accountId: string, reason: string, actor: Actor) =>
      setAccount(tenantId, accountId, true, reason, actor),
    unfreezeAccount: (tenantId: string, accountId: string, reason: string | undefined, actor: Actor) =>
      setAccount(tenantId, accountId, false, reason, actor),
    /** `tenant` is its id or its name. */
    freezeTenant: (tenant: string, reason: string, actor: Actor) => setTenant(tenant, true, reason, actor),
    unfreezeTenant: (tenant: string, reason: string | undefined, actor: Actor) => setTenant(tenant, false, reason, actor),
  };
}

export type Freezes = ReturnType<typeof createFreezes>;
