// Monitoring routes: the stored alerts, their live stream (SSE) and the Prometheus metrics.
import Type from 'typebox';
import { AppError } from '../errors.js';
import { ListOf, ListQuery, pageSize, toPage } from '../gateway/pagination.js';
import { defineRoute, type ApiRoute } from '../gateway/route-table.js';
import { Id, Nullable, problemResponses, StringEnum, Strict } from '../gateway/schemas.js';
import { auditContext } from '../lib/audit-context.js';
import type { Principal } from '../lib/principal.js';
import { SEVERITIES } from './alert-config.js';
import type { Alert, AlertService } from './alerts.js';
import type { Metrics } from './metrics.js';
import type { StreamHub } from './sse.js';

const ids = Type.Array(Type.String());
const alertSchema = Strict({
  id: Type.String(),
  rule: Type.String(),
  subject: Type.String(),
  tenant_id: Nullable(Type.String()),
  severity: StringEnum(SEVERITIES),
  status: StringEnum(['open', 'closed']),
  summary: Type.String(),
  count: Type.Integer(),
  evidence: Strict({ request_ids: ids, audit_event_ids: ids }),
  first_seen: Type.String({ format: 'date-time' }),
  last_seen: Type.String({ format: 'date-time' }),
  acknowledged_at: Nullable(Type.String({ format: 'date-time' })),
  acknowledged_by: Nullable(Type.String({ description: 'The client, or client/user, that acknowledged it' })),
});

/** The stream's answer is written by the hub itself (text/event-stream); the handler returns no body. */
const eventStream = Type.Unsafe<undefined>({ type: 'string', description: 'text/event-stream' });

const MAX_BACKLOG = 100;

export interface MonitoringRouteDeps {
  alerts: AlertService;
  streams: StreamHub;
  metrics: Metrics;
  seesAllTenants(principal: Principal): Promise<boolean>;
  /** Where the stream's token stands now (identity.recheck). */
  recheck(principal: Principal): Promise<Principal | undefined>;
}

export function monitoringRoutes(deps: MonitoringRouteDeps): ApiRoute[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/alerts',
      tag: 'alerts',
      summary: 'List alerts, newest first',
      permission: 'alerts:read',
      operationId: 'alert.list',
      rateLimit: 'read',
      schema: {
        querystring: Strict(ListQuery),
        response: { 200: ListOf(alertSchema), ...problemResponses },
      },
      async handler({ principal, query }) {
        const all = await deps.seesAllTenants(principal);
        const limit = pageSize(query);
        const rows = await deps.alerts.list(all ? undefined : principal.tenantId, limit, query.starting_after);
        return { status: 200, body: toPage(rows, limit) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/alerts/:id/acknowledge',
      tag: 'alerts',
      summary: 'Acknowledge an open alert: it is closed, with who and when (a repeat opens a new one)',
      permission: 'alerts:write',
      operationId: 'alert.acknowledge',
      rateLimit: 'write',
      schema: { params: Strict({ id: Id('alr') }), body: Strict({}), response: { 200: alertSchema, ...problemResponses } },
      async handler({ principal, params, request }) {
        const all = await deps.seesAllTenants(principal);
        const alert = await deps.alerts.acknowledge(all ? undefined : principal.tenantId, params.id, auditContext(principal, request));
        return { status: 200, body: alert };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/alerts/stream',
      tag: 'alerts',
      summary: 'Alerts as they are raised (Server-Sent Events, `event: alert`)',
      permission: 'alerts:read',
      operationId: 'alert.stream',
      rateLimit: 'read',
      schema: {
        headers: Type.Object({
          'last-event-id': Type.Optional(
            Type.String({ pattern: '^alr_[0-9a-z]{26}$', description: 'Resume: the alerts raised after this one are sent first' }),
          ),
        }),
        response: { 200: eventStream, ...problemResponses },
      },
      async handler({ principal, request, reply }) {
        // A place under the stream caps is taken first, so a refusal is an ordinary 429 answer
        // (nothing written yet) and streams opened all at once cannot overshoot the cap.
        // Per client, and per signed-in person of a client (a console's users do not share one cap).
        const slot = deps.streams.admit(principal.userId === undefined ? principal.clientId : `${principal.clientId}/${principal.userId}`);
        let all: boolean;
        try {
          all = await deps.seesAllTenants(principal);
        } catch (err) {
          slot.release(); // not opened after all; once open, the stream gives its place back itself
          throw err;
        }
        const tenant = all ? undefined : principal.tenantId;
        // Validated against the headers schema; Node joins a repeated unknown header into one string.
        const lastEventId = request.headers['last-event-id'] as string | undefined;
        await deps.streams.open(request, reply, slot, {
          tokenHash: principal.tokenHash,
          expiresAtMs: principal.expiresAtMs,
          // Revoked, expired, or no longer carrying alerts:read (scope or role change): the stream ends.
          stands: async () => (await deps.recheck(principal))?.scopes.has('alerts:read') === true,
          // A tenant's stream carries only its own alerts; platform-wide ones (no tenant) go to the platform.
          visible: (alert: Alert) => all || alert.tenant_id === principal.tenantId,
          // More than a page behind: the rest is at GET /v1/alerts (a stream is no place for a dump).
          missed: async () => (lastEventId ? deps.alerts.raisedAfter(tenant, lastEventId, MAX_BACKLOG) : []),
        });
        return { status: 200, body: undefined };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/metrics',
      tag: 'monitoring',
      summary: 'Prometheus metrics (text exposition format)',
      permission: 'metrics:read',
      operationId: 'metrics.read',
      rateLimit: 'read',
      schema: { response: { 200: Type.String({ description: 'Prometheus text format 0.0.4' }), ...problemResponses } },
      async handler({ principal }) {
        // The counters are the whole platform's (every tenant's transfers and amounts): a tenant's
        // principal would learn the others' activity from them.
        if (!(await deps.seesAllTenants(principal)))
          throw new AppError('forbidden', 'Metrics are platform-wide: only principals of the platform tenant read them');
        return { status: 200, body: await deps.metrics.registry.metrics(), headers: { 'content-type': deps.metrics.registry.contentType } };
      },
    }),
  ];
}
