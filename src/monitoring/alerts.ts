// Alerts: stored, grouped and deduplicated. One open alert per rule+subject within the dedup
// window: a repeat adds to its count and evidence instead of making a new alert (and is written
// back at most once a second, so a burst of repeats is not a burst of writes). Only a new alert
// is fanned out to the streams and sent to the notifiers.
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import { AppError } from '../errors.js';
import { newId } from '../lib/ids.js';
import type { Database } from '../storage/types.js';
import type { Severity } from './alert-config.js';
import type { AlertInput } from './detector.js';
import type { Fanout } from './fanout.js';

export interface Alert {
  id: string;
  rule: string;
  subject: string;
  tenant_id: string | null;
  severity: Severity;
  status: 'open' | 'closed';
  summary: string;
  count: number;
  evidence: { request_ids: string[]; audit_event_ids: string[] };
  first_seen: string;
  last_seen: string;
  /** When a person acknowledged (and so closed) it, and who: a client id, or client/user. */
  acknowledged_at: string | null;
  acknowledged_by: string | null;
}

interface AlertRow {
  id: string;
  rule: string;
  subject: string;
  tenant_id: string | null;
  severity: Severity;
  status: 'open' | 'closed';
  summary: string;
  count: bigint;
  evidence: string;
  first_seen: bigint;
  last_seen: bigint;
  acknowledged_at: bigint | null;
  acknowledged_by: string | null;
}

const EVIDENCE_CAP = 20;
const COLUMNS =
  'id, rule, subject, tenant_id, severity, status, summary, count, evidence, first_seen, last_seen, acknowledged_at, acknowledged_by';

function view(r: AlertRow): Alert {
  return {
    id: r.id,
    rule: r.rule,
    subject: r.subject,
    tenant_id: r.tenant_id,
    severity: r.severity,
    status: r.status,
    summary: r.summary,
    count: Number(r.count),
    evidence: JSON.parse(r.evidence) as Alert['evidence'],
    first_seen: new Date(Number(r.first_seen)).toISOString(),
    last_seen: new Date(Number(r.last_seen)).toISOString(),
    acknowledged_at: r.acknowledged_at === null ? null : new Date(Number(r.acknowledged_at)).toISOString(),
    acknowledged_by: r.acknowledged_by,
  };
}

function merge(into: string[], more: string[] | undefined): string[] {
  if (!more) return into;
  const out = [...into];
  for (const v of more) if (!out.includes(v) && out.length < EVIDENCE_CAP) out.push(v);
  return out;
}

export interface AlertServiceDeps {
  db: Database;
  fanout: Fanout;
  dedupWindowMs: number;
  /** Called once per new alert (notifiers). */
  onNew(alert: Alert): void;
  logger: { warn(obj: object, msg?: string): void };
  /** Records acknowledgements (alert.acknowledge); absent in the CLI. */
  audit?: AuditLog | undefined;
  /** Counts new alerts (vaultgate_alerts_raised_total); absent in the CLI. */
  raised?: { inc(labels: { rule: string; severity: string }): void };
}

export function createAlertService(deps: AlertServiceDeps) {
  const { db, fanout } = deps;
  const open = new Map<string, { row: AlertRow; dirty: boolean }>();
  const queues = new Map<string, Promise<unknown>>();
  const flushTimer = setInterval(() => void flush(), 1000);
  flushTimer.unref();

  async function flush(): Promise<void> {
    for (const entry of open.values()) {
      if (!entry.dirty) continue;
      entry.dirty = false;
      const r = entry.row;
      // Only while open: once acknowledged (here or on another node), repeats open a new alert.
      const updated = await db
        .run("UPDATE alerts SET count = $2, evidence = $3, last_seen = $4 WHERE id = $1 AND status = 'open'", [
          r.id,
          r.count,
          r.evidence,
          r.last_seen,
        ])
        .catch((err: unknown) => {
          deps.logger.warn({ event: 'alert.update_failed', error: (err as Error)?.name }, 'alert update failed');
          return 1;
        });
      if (updated === 0) open.delete(`${r.rule}|${r.subject}`);
    }
    const now = Date.now();
    for (const [k, entry] of open) if (!entry.dirty && Number(entry.row.last_seen) < now - deps.dedupWindowMs) open.delete(k);
  }

  async function raiseNow(input: AlertInput): Promise<Alert> {
    const key = `${input.rule}|${input.subject}`;
    const now = Date.now();
    let entry = open.get(key);
    if (!entry || Number(entry.row.last_seen) < now - deps.dedupWindowMs) {
      // Another node (or an earlier run of this one) may hold the open alert: group with it.
      const row = await db.one<AlertRow>(
        `SELECT ${COLUMNS} FROM alerts WHERE rule = $1 AND subject = $2 AND status = 'open' AND last_seen >= $3 ORDER BY last_seen DESC LIMIT 1`,
        [input.rule, input.subject, now - deps.dedupWindowMs],
      );
      entry = row ? { row, dirty: false } : undefined;
      if (entry) open.set(key, entry);
    }
    if (entry) {
      const r = entry.row;
      const evidence = JSON.parse(r.evidence) as Alert['evidence'];
      r.evidence = JSON.stringify({
        request_ids: merge(evidence.request_ids, input.evidence.request_ids),
        audit_event_ids: merge(evidence.audit_event_ids, input.evidence.audit_event_ids),
      });
      r.count += 1n;
      r.last_seen = BigInt(now);
      entry.dirty = true;
      return view(r);
    }
    const row: AlertRow = {
      id: newId('alr'),
      rule: input.rule,
      subject: input.subject,
      tenant_id: input.tenantId,
      severity: input.severity,
      status: 'open',
      summary: input.summary,
      count: 1n,
      evidence: JSON.stringify({
        request_ids: merge([], input.evidence.request_ids),
        audit_event_ids: merge([], input.evidence.audit_event_ids),
      }),
      first_seen: BigInt(now),
      last_seen: BigInt(now),
      acknowledged_at: null,
      acknowledged_by: null,
    };
    await db.run(`INSERT INTO alerts (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, [
      row.id,
      row.rule,
      row.subject,
      row.tenant_id,
      row.severity,
      row.status,
      row.summary,
      row.count,
      row.evidence,
      row.first_seen,
      row.last_seen,
      row.acknowledged_at,
      row.acknowledged_by,
    ]);
    open.set(key, { row, dirty: false });
    const alert = view(row);
    deps.raised?.inc({ rule: row.rule, severity: row.severity });
    await fanout
      .publish(JSON.stringify(alert))
      .catch((err: unknown) => deps.logger.warn({ event: 'alert.fanout_failed', error: (err as Error)?.name }, 'alert fan-out failed'));
    deps.onNew(alert);
    return alert;
  }

  return {
    /** Raises (or groups) an alert; serialized per rule+subject so a burst makes one alert. */
    raise(input: AlertInput): Promise<Alert> {
      const key = `${input.rule}|${input.subject}`;
      const next = (queues.get(key) ?? Promise.resolve()).then(() => raiseNow(input));
      const tail = next.catch(() => undefined);
      queues.set(key, tail);
      void tail.then(() => {
        if (queues.get(key) === tail) queues.delete(key);
      });
      return next;
    },

    /** Newest first; tenantId undefined = every tenant. */
    async list(tenantId: string | undefined, limit: number, startingAfter: string | undefined): Promise<Alert[]> {
      await flush();
      const rows = await db.query<AlertRow>(
        `SELECT ${COLUMNS} FROM alerts WHERE (CAST($1 AS TEXT) IS NULL OR tenant_id = $1) AND (CAST($2 AS TEXT) IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3`,
        [tenantId ?? null, startingAfter ?? null, limit + 1],
      );
      return rows.map(view);
    },

    /** Alerts raised after `afterId`, oldest first: what a reconnecting stream missed. */
    async raisedAfter(tenantId: string | undefined, afterId: string, limit: number): Promise<Alert[]> {
      await flush();
      const rows = await db.query<AlertRow>(
        `SELECT ${COLUMNS} FROM alerts WHERE (CAST($1 AS TEXT) IS NULL OR tenant_id = $1) AND id > $2 ORDER BY id ASC LIMIT $3`,
        [tenantId ?? null, afterId, limit],
      );
      return rows.map(view);
    },

    /**
     * A person acknowledges an open alert: it is closed, with who and when, and audited in the same
     * transaction. tenantId undefined = any tenant's (the platform). not_found for another
     * tenant's or an unknown alert; conflict when it is closed already.
     */
    async acknowledge(
      tenantId: string | undefined,
      id: string,
      by: { clientId: string; userId: string | undefined; ip: string; requestId: string },
    ) {
      await flush();
      const now = Date.now();
      const acknowledged = await db.transaction(async (tx) => {
        const row = await tx.one<AlertRow>(
          `SELECT ${COLUMNS} FROM alerts WHERE id = $1 AND (CAST($2 AS TEXT) IS NULL OR tenant_id = $2) ${db.forUpdate}`,
          [id, tenantId ?? null],
        );
        if (!row) throw new AppError('not_found', 'Alert not found');
        if (row.status !== 'open') throw new AppError('conflict', 'The alert is closed already');
        const who = by.userId === undefined ? by.clientId : `${by.clientId}/${by.userId}`;
        await tx.run("UPDATE alerts SET status = 'closed', acknowledged_at = $2, acknowledged_by = $3 WHERE id = $1", [id, now, who]);
        await deps.audit?.record(
          {
            action: AUDIT_ACTIONS.alertAcknowledged,
            outcome: 'success',
            tenantId: row.tenant_id ?? undefined,
            clientId: by.clientId,
            userId: by.userId,
            ip: by.ip,
            requestId: by.requestId,
            target: id,
            details: { rule: row.rule, severity: row.severity },
          },
          tx,
        );
        return { ...row, status: 'closed' as const, acknowledged_at: BigInt(now), acknowledged_by: who };
      });
      open.delete(`${acknowledged.rule}|${acknowledged.subject}`);
      return view(acknowledged);
    },

    async close(): Promise<void> {
      clearInterval(flushTimer);
      await Promise.allSettled([...queues.values()]);
      await flush();
    },
  };
}

export type AlertService = ReturnType<typeof createAlertService>;
