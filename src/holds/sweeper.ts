// Expiry of holds: every node sweeps, and each expired hold is released exactly once. A batch takes
// the due holds it can lock (PostgreSQL: FOR UPDATE SKIP LOCKED, so two nodes take different
// holds and a capture or void in flight keeps its own), releases them, marks them expired and
// audits each, in one transaction: a crash anywhere leaves every hold either still pending (and
// due: the next sweep takes it) or expired and released, never half of it.
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import type { Database } from '../storage/types.js';
import { recordEvent } from '../events/outbox.js';
import { HOLD_COLUMNS, holdView, releaseHeld, type HoldRow } from './hold-service.js';

const BATCH = 100;
/** Batches per sweep: a backlog drains over a few seconds without holding the writer for long. */
const MAX_BATCHES = 10;

export interface HoldSweeper {
  /** Releases the holds due now (at most one batch); resolves to how many. */
  sweepOnce(now?: number): Promise<number>;
}

export function createHoldSweeper({ db, audit }: { db: Database; audit?: AuditLog | undefined }): HoldSweeper {
  return {
    async sweepOnce(now = Date.now()) {
      // Most seconds nothing is due: a plain read (the partial index), not a write transaction.
      if (!(await db.one("SELECT 1 AS one FROM holds WHERE status = 'pending' AND expires_at <= $1 LIMIT 1", [now]))) return 0;
      return db.transaction(async (tx) => {
        const due = await tx.query<HoldRow>(
          `SELECT ${HOLD_COLUMNS} FROM holds WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 ${db.forUpdateSkipLocked}`,
          [now, BATCH],
        );
        if (due.length === 0) return 0;
        // One release per account, in id order: the lock order every money path keeps.
        const perAccount = new Map<string, bigint>();
        for (const h of due) perAccount.set(h.source_account_id, (perAccount.get(h.source_account_id) ?? 0n) + h.amount);
        for (const account of [...perAccount.keys()].sort()) await releaseHeld(tx, account, perAccount.get(account) as bigint);
        for (const h of due) {
          const expired = await tx.run("UPDATE holds SET status = 'expired', settled_at = $2 WHERE id = $1 AND status = 'pending'", [
            h.id,
            now,
          ]);
          if (expired !== 1) throw new Error(`hold ${h.id} settled under the sweeper's lock`);
          await audit?.record(
            {
              action: AUDIT_ACTIONS.holdExpired,
              outcome: 'success',
              tenantId: h.tenant_id,
              target: h.id,
              details: { released: Number(h.amount) },
            },
            tx,
          );
          const expiredHold: HoldRow = { ...h, status: 'expired', settled_at: BigInt(now) };
          await recordEvent(tx, { tenantId: h.tenant_id, type: 'hold.expired', data: holdView(expiredHold) });
        }
        return due.length;
      });
    },
  };
}

/** One tick of the timer: batches until none is full (at most MAX_BATCHES); resolves to how many were released. */
export async function sweepHolds(sweeper: HoldSweeper, now = Date.now()): Promise<number> {
  let released = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const n = await sweeper.sweepOnce(now);
    released += n;
    if (n < BATCH) break;
  }
  return released;
}
