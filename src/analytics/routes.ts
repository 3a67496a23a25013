// GET /v1/admin/usage (docs/contract.md §7): who calls what, per minute, added up over the nodes.
// A tenant's principal sees its own tenant; the platform tenant sees every tenant's traffic,
// including the anonymous requests that belong to no tenant.
import Type from 'typebox';
import { AppError } from '../errors.js';
import { defineRoute, type ApiRoute } from '../gateway/route-table.js';
import { Nullable, problemResponses, StringEnum, Strict } from '../gateway/schemas.js';
import type { Principal } from '../lib/principal.js';
import type { Database } from '../storage/types.js';
import { queryUsage, type UsageGroupBy } from './usage-queries.js';

const HOUR_MS = 3600_000;
/** A report spans at most 31 days: a wider one is a dump, not a question. */
const MAX_SPAN_MS = 31 * 24 * HOUR_MS;
export const GROUP_BY: readonly UsageGroupBy[] = ['client', 'route', 'status'];

const groupSchema = Strict({
  client_id: Nullable(Type.String()),
  route: Nullable(Type.String()),
  upstream: Nullable(Type.String()),
  status_class: Type.Union([StringEnum(['2xx', '3xx', '4xx', '5xx']), Type.Null()]),
  requests: Type.Integer(),
  rate_limited: Type.Integer(),
  latency_ms: Strict({ p50: Type.Number(), p95: Type.Number(), p99: Type.Number() }),
  bytes_in: Type.Integer(),
  bytes_out: Type.Integer(),
});

export const usageReportSchema = Strict({
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  bucket_seconds: Type.Integer(),
  groups: Type.Array(groupSchema),
});

/** `client,route` → the grouping, each name once; anything else is a validation error. */
export function parseGroupBy(value: string | undefined): UsageGroupBy[] {
  if (value === undefined || value === '') return [...GROUP_BY];
  const names = value.split(',');
  const out: UsageGroupBy[] = [];
  for (const name of names) {
    const known = GROUP_BY.find((g) => g === name);
    if (!known || out.includes(known))
      throw new AppError('validation_failed', `group_by: expected a comma-separated subset of ${GROUP_BY.join(', ')}`);
    out.push(known);
  }
  return out;
}

/** The window asked for: default the last hour; to after from; at most 31 days. */
export function usageWindow(from: string | undefined, to: string | undefined, now: number): { from: number; to: number } {
  const toMs = to === undefined ? now : Date.parse(to);
  const fromMs = from === undefined ? toMs - HOUR_MS : Date.parse(from);
  if (Number.isNaN(fromMs) || Number.isNaN(toMs))
    throw new AppError('validation_failed', 'from and to must be date-times this server can place');
  if (fromMs >= toMs) throw new AppError('validation_failed', 'from must be before to');
  if (toMs - fromMs > MAX_SPAN_MS) throw new AppError('validation_failed', 'a usage report spans at most 31 days');
  return { from: fromMs, to: toMs };
}

export function analyticsRoutes(deps: { db: Database; seesAllTenants(principal: Principal): Promise<boolean> }): ApiRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/admin/usage',
      tag: 'analytics',
      summary: 'Usage analytics: requests, rate limits, latency and bytes per client, route and status class, per minute',
      permission: 'analytics:read',
      operationId: 'usage.read',
      rateLimit: 'read',
      schema: {
        querystring: Strict({
          from: Type.Optional(Type.String({ format: 'date-time', description: 'Default: an hour before `to`' })),
          to: Type.Optional(Type.String({ format: 'date-time', description: 'Default: now (exclusive)' })),
          group_by: Type.Optional(Type.String({ pattern: '^[a-z,]{1,40}$', description: 'A subset of client,route,status (default all)' })),
        }),
        response: { 200: usageReportSchema, ...problemResponses },
      },
      async handler({ principal, query }) {
        const window = usageWindow(query.from, query.to, Date.now());
        const groupBy = parseGroupBy(query.group_by);
        const all = await deps.seesAllTenants(principal);
        return { status: 200, body: await queryUsage(deps.db, { ...window, tenantId: all ? undefined : principal.tenantId, groupBy }) };
      },
    }),
  ];
}
