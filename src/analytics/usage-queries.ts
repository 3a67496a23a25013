// Usage analytics, the read side: the contract §7 report, and the retention sweep.
//
// Report conventions:
// - A field the report is not grouped by is null (every group has every field, so a table or a
//   CSV has fixed columns). Grouping by 'route' also keeps `upstream` (a route has one upstream).
// - '' is a real value: client_id '' = anonymous requests, upstream '' = an internal route.
// - from/to are widened to whole minutes (from down, to up) and returned as ISO 8601; `to` is
//   exclusive. Groups are ordered by requests, most first, then by their key.
// - Histograms are merged across minutes and nodes in JS, so p50/p95/p99 carry the bound of
//   ./histogram.ts (never under, at most ×1.376 over, saturating at 60 000 ms).
import type { Database } from '../storage/types.js';
import { LatencyHistogram } from './histogram.js';
import type { StatusClass } from './usage-recorder.js';

export type UsageGroupBy = 'client' | 'route' | 'status';

export interface UsageQuery {
  /** Epoch ms or a Date. */
  from: number | Date;
  to: number | Date;
  /** Required on purpose: undefined (all tenants, for the platform tenant) must be said, not forgotten. */
  tenantId: string | undefined;
  groupBy: readonly UsageGroupBy[];
}

export interface UsageGroup {
  client_id: string | null;
  route: string | null;
  upstream: string | null;
  status_class: StatusClass | null;
  requests: number;
  rate_limited: number;
  latency_ms: { p50: number; p95: number; p99: number };
  bytes_in: number;
  bytes_out: number;
}

export interface UsageReport {
  from: string;
  to: string;
  bucket_seconds: 60;
  groups: UsageGroup[];
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Kept 90 days by default (contract §7). */
export const USAGE_RETENTION_MS = 90 * DAY_MS;

interface UsageRow {
  client_id: string;
  route: string;
  upstream: string;
  status_class: StatusClass;
  requests: bigint | number;
  rate_limited: bigint | number;
  bytes_in: bigint | number;
  bytes_out: bigint | number;
  latency: string;
}

interface Accumulator {
  group: Omit<UsageGroup, 'latency_ms'>;
  latency: LatencyHistogram;
}

const SELECT_COLUMNS = 'client_id, route, upstream, status_class, requests, rate_limited, bytes_in, bytes_out, latency';
// Two fixed texts: the tenant one uses usage_minutes_tenant, the other the primary key (minute first).
const TENANT_SQL = `SELECT ${SELECT_COLUMNS} FROM usage_minutes WHERE tenant_id = $1 AND minute >= $2 AND minute < $3`;
const ALL_TENANTS_SQL = `SELECT ${SELECT_COLUMNS} FROM usage_minutes WHERE minute >= $1 AND minute < $2`;

function epochMs(t: number | Date, name: string): number {
  const ms = typeof t === 'number' ? t : t.getTime();
  if (!Number.isFinite(ms)) throw new RangeError(`queryUsage: ${name} is not a valid time`);
  return ms;
}

export async function queryUsage(db: Database, query: UsageQuery): Promise<UsageReport> {
  const from = Math.floor(epochMs(query.from, 'from') / MINUTE_MS) * MINUTE_MS;
  const to = Math.ceil(epochMs(query.to, 'to') / MINUTE_MS) * MINUTE_MS;
  if (to < from) throw new RangeError('queryUsage: to is before from');
  const by = new Set(query.groupBy);
  const byClient = by.has('client');
  const byRoute = by.has('route');
  const byStatus = by.has('status');

  const rows =
    query.tenantId === undefined
      ? await db.query<UsageRow>(ALL_TENANTS_SQL, [from, to])
      : await db.query<UsageRow>(TENANT_SQL, [query.tenantId, from, to]);

  const groups = new Map<string, Accumulator>();
  for (const r of rows) {
    const clientId = byClient ? r.client_id : null;
    const route = byRoute ? r.route : null;
    const upstream = byRoute ? r.upstream : null;
    const statusClass = byStatus ? r.status_class : null;
    const key = JSON.stringify([clientId, route, upstream, statusClass]);
    let acc = groups.get(key);
    if (!acc) {
      acc = {
        group: { client_id: clientId, route, upstream, status_class: statusClass, requests: 0, rate_limited: 0, bytes_in: 0, bytes_out: 0 },
        latency: new LatencyHistogram(),
      };
      groups.set(key, acc);
    }
    acc.group.requests += Number(r.requests);
    acc.group.rate_limited += Number(r.rate_limited);
    acc.group.bytes_in += Number(r.bytes_in);
    acc.group.bytes_out += Number(r.bytes_out);
    acc.latency.merge(LatencyHistogram.parse(r.latency));
  }

  const sorted = [...groups.entries()].sort(([ka, a], [kb, b]) => b.group.requests - a.group.requests || (ka < kb ? -1 : ka > kb ? 1 : 0));
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    bucket_seconds: 60,
    groups: sorted.map(([, { group, latency }]) => ({
      client_id: group.client_id,
      route: group.route,
      upstream: group.upstream,
      status_class: group.status_class,
      requests: group.requests,
      rate_limited: group.rate_limited,
      latency_ms: { p50: latency.quantile(0.5), p95: latency.quantile(0.95), p99: latency.quantile(0.99) },
      bytes_in: group.bytes_in,
      bytes_out: group.bytes_out,
    })),
  };
}

export interface SweepUsageOptions {
  /** Rows per DELETE; default 5000. */
  batchSize?: number;
}

// Row values and a LIMIT in the subquery work the same on both engines; each batch is its own
// short statement, so flushes and readers get turns between batches.
const SWEEP_SQL = `DELETE FROM usage_minutes WHERE (minute, tenant_id, client_id, route, upstream, status_class) IN (
  SELECT minute, tenant_id, client_id, route, upstream, status_class FROM usage_minutes WHERE minute < $1 ORDER BY minute LIMIT $2)`;

/**
 * Deletes the minutes that start before `olderThanMs` (epoch ms; default now − 90 days), in
 * batches; returns the number of rows deleted.
 */
export async function sweepUsage(
  db: Database,
  olderThanMs: number = Date.now() - USAGE_RETENTION_MS,
  options: SweepUsageOptions = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 5000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError('sweepUsage: batchSize must be a positive integer');
  let total = 0;
  for (;;) {
    const deleted = await db.run(SWEEP_SQL, [olderThanMs, batchSize]);
    total += deleted;
    if (deleted < batchSize) return total;
    // Yield to the event loop: on SQLite each statement is synchronous.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
