// Money-aware limits: per account and per tenant, amount per hour and per day and number of
// transfers per minute, per currency (config `rate_limits.velocity`). The check runs inside the
// posting's transaction and records the transfer in the same transaction, so it is atomic with
// the posting: concurrent transfers serialize on a lock and the second one sees the first.
//   - account rules: the source account's row lock (taken by post(); FOR UPDATE on PostgreSQL,
//     the single write lock on SQLite) already serializes every transfer out of that account;
//   - tenant rules: an upsert of the tenant's row in velocity_locks takes that row's lock.
// Lock order is always account rows (sorted) → tenant row, and deposits take no velocity lock,
// so no cycle (deadlock) is possible.
//
// Why bucketed counters rather than summing the transfers table: a tenant-wide daily sum would
// read every transfer of the day on every transfer (cost grows with volume). Each rule window is
// split into 60 buckets; the check reads at most 60 rows per window. The window read starts at
// the bucket holding (now − window), so it covers slightly more than the window: the rounding
// can only make a rule stricter, never let more through.
import { AppError } from '../errors.js';
import type { VelocityRule } from '../gateway/rate-limit/settings.js';
import type { Sql } from '../storage/types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const BUCKETS_PER_WINDOW = 60;

export interface VelocityInput {
  tenantId: string;
  sourceId: string;
  currency: string;
  amount: bigint;
}

export interface Velocity {
  /** Throws 422 velocity_limit_exceeded when the transfer would break a rule; else records it. */
  check(tx: Sql, input: VelocityInput): Promise<void>;
}

interface Limit {
  window: number;
  measure: 'amount' | 'count';
  max: bigint;
  label: string;
}

function limitsOf(rule: VelocityRule, currency: string): Limit[] {
  const out: Limit[] = [];
  if (rule.maxAmountPerHour !== undefined)
    out.push({ window: HOUR, measure: 'amount', max: rule.maxAmountPerHour, label: `${rule.maxAmountPerHour} ${currency} per hour` });
  if (rule.maxAmountPerDay !== undefined)
    out.push({ window: DAY, measure: 'amount', max: rule.maxAmountPerDay, label: `${rule.maxAmountPerDay} ${currency} per day` });
  if (rule.maxTransfersPerMinute !== undefined)
    out.push({
      window: MINUTE,
      measure: 'count',
      max: BigInt(rule.maxTransfersPerMinute),
      label: `${rule.maxTransfersPerMinute} transfers per minute`,
    });
  return out;
}

export function createVelocity(rules: readonly VelocityRule[], clock: () => number = Date.now): Velocity | undefined {
  if (rules.length === 0) return undefined;

  async function checkScope(
    tx: Sql,
    scope: 'account' | 'tenant',
    id: string,
    input: VelocityInput,
    limits: Limit[],
    now: number,
  ): Promise<void> {
    if (scope === 'tenant') {
      await tx.run(
        'INSERT INTO velocity_locks (scope, touched_at) VALUES ($1, $2) ON CONFLICT (scope) DO UPDATE SET touched_at = excluded.touched_at',
        [`tenant:${id}:${input.currency}`, now],
      );
    }
    for (const window of new Set(limits.map((l) => l.window))) {
      const series = `${scope}:${id}:${input.currency}:${window}`;
      const size = window / BUCKETS_PER_WINDOW;
      const since = Math.floor((now - window) / size) * size;
      const used = await tx.one<{ amount: bigint | string; count: bigint | string }>(
        `SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS amount, CAST(COALESCE(SUM(count), 0) AS BIGINT) AS count
         FROM velocity_buckets WHERE series = $1 AND bucket_start >= $2`,
        [series, since],
      );
      const amount = BigInt(used?.amount ?? 0);
      const count = BigInt(used?.count ?? 0);
      for (const l of limits.filter((x) => x.window === window)) {
        const after = l.measure === 'amount' ? amount + input.amount : count + 1n;
        if (after > l.max) throw new AppError('velocity_limit_exceeded', `The ${scope} limit of ${l.label} would be exceeded`);
      }
      const bucket = Math.floor(now / size) * size;
      await tx.run(
        `INSERT INTO velocity_buckets (series, bucket_start, amount, count) VALUES ($1, $2, $3, 1)
         ON CONFLICT (series, bucket_start) DO UPDATE SET amount = velocity_buckets.amount + excluded.amount, count = velocity_buckets.count + 1`,
        [series, bucket, input.amount],
      );
      // Buckets that left the window are never read again.
      await tx.run('DELETE FROM velocity_buckets WHERE series = $1 AND bucket_start < $2', [series, since]);
    }
  }

  return {
    async check(tx, input) {
      const now = clock();
      // Account scope first, then tenant: the lock order the header comment relies on.
      for (const scope of ['account', 'tenant'] as const) {
        const applicable = rules.filter(
          (r) =>
            r.scope === scope &&
            (r.currency === undefined || r.currency === input.currency) &&
            (r.tenant === undefined || r.tenant === input.tenantId),
        );
        if (applicable.length === 0) continue;
        const limits = applicable.flatMap((r) => limitsOf(r, input.currency));
        await checkScope(tx, scope, scope === 'account' ? input.sourceId : input.tenantId, input, limits, now);
      }
    },
  };
}
