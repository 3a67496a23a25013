// Reading the audit log: filtered pages (GET /v1/audit-events) and a batched walk (export).
// Every filter is a bound parameter; an absent filter binds NULL and matches everything.
import type { Database, SqlValue } from '../storage/types.js';
import { toAuditEvent } from './audit-log.js';
import type { ChainFields } from './chain.js';
import type { AuditEvent } from './types.js';

export interface AuditFilter {
  /** Only this tenant's events; undefined = every tenant (the platform's own auditors). */
  tenantId?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  clientId?: string | undefined;
  action?: string | undefined;
  outcome?: string | undefined;
}

const SELECT = `SELECT seq, id, time, tenant_id, client_id, user_id, ip, action, target, outcome, details, request_id, prev_hash, hash
  FROM audit_events
  WHERE (CAST($1 AS TEXT) IS NULL OR tenant_id = $1)
    AND (CAST($2 AS BIGINT) IS NULL OR time >= $2)
    AND (CAST($3 AS BIGINT) IS NULL OR time < $3)
    AND (CAST($4 AS TEXT) IS NULL OR client_id = $4)
    AND (CAST($5 AS TEXT) IS NULL OR action = $5)
    AND (CAST($6 AS TEXT) IS NULL OR outcome = $6)
    AND seq > $7
  ORDER BY seq LIMIT $8`;

type Row = Omit<ChainFields, 'seq' | 'time'> & { seq: bigint; time: bigint; hash: string };

function params(f: AuditFilter, afterSeq: number, limit: number): SqlValue[] {
  return [f.tenantId ?? null, f.from ?? null, f.to ?? null, f.clientId ?? null, f.action ?? null, f.outcome ?? null, afterSeq, limit];
}

const toEvent = (r: Row): AuditEvent => toAuditEvent({ ...r, seq: Number(r.seq), time: Number(r.time) });

export function createAuditQueries(db: Database) {
  return {
    /** Up to limit+1 events after the cursor event (an `aud_` id), oldest first. */
    async list(filter: AuditFilter, limit: number, startingAfter: string | undefined): Promise<AuditEvent[]> {
      let afterSeq = 0;
      if (startingAfter !== undefined) {
        // The cursor must be an event this caller may see: another tenant's id reads as unknown.
        const cursor = await db.one<{ seq: bigint }>(
          'SELECT seq FROM audit_events WHERE id = $1 AND (CAST($2 AS TEXT) IS NULL OR tenant_id = $2)',
          [startingAfter, filter.tenantId ?? null],
        );
        afterSeq = cursor ? Number(cursor.seq) : Number.MAX_SAFE_INTEGER;
      }
      return (await db.query<Row>(SELECT, params(filter, afterSeq, limit + 1))).map(toEvent);
    },

    /** Every matching event, oldest first, read in batches (memory stays flat on any size). */
    async *walk(filter: AuditFilter, batch = 500): AsyncGenerator<AuditEvent> {
      let afterSeq = 0;
      for (;;) {
        const rows = await db.query<Row>(SELECT, params(filter, afterSeq, batch));
        for (const r of rows) yield toEvent(r);
        if (rows.length < batch) return;
        afterSeq = Number(rows[rows.length - 1]?.seq ?? 0n);
      }
    },
  };
}

export type AuditQueries = ReturnType<typeof createAuditQueries>;

/** The public JSON shape of an event (API and export). */
export function auditEventView(e: AuditEvent) {
  return {
    id: e.id,
    seq: e.seq,
    time: new Date(e.time).toISOString(),
    action: e.action,
    outcome: e.outcome,
    actor: { tenant_id: e.tenantId, client_id: e.clientId, user_id: e.userId, ip: e.ip },
    target: e.target,
    details: e.details,
    request_id: e.requestId,
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}
