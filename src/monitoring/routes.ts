// Monitoring routes: the stored alerts, their live stream (SSE) and the Prometheus metrics.
import { AppError } from '../errors.js';
import { listQueryProperties, listResponse, toPage } from '../gateway/pagination.js';
import type { ApiRoute, HandlerContext } from '../gateway/route-table.js';
import { problemResponses } from '../gateway/schemas.js';
import type { Principal } from '../lib/principal.js';
import type { Alert, AlertService } from './alerts.js';
import { metricsRegistry } from './metrics.js';
import type { StreamHub } from './sse.js';

const ids = { type: 'array', items: { type: 'string' } };
const alertSchema = {
  type: 'object', additionalProperties: false,
  required: ['id', 'rule', 'subject', 'tenant_id', 'severity', 'status', 'summary', 'count', 'evidence', 'first_seen', 'last_seen'],
  properties: {
    id: { type: 'string' },
    rule: { type: 'string' },
    subject: { type: 'string' },
    tenant_id: { type: ['string', 'null'] },
    severity: { type: 'string', enum: ['low', 'medium', 'high', 'critical'] },
    status: { type: 'string', enum: ['open', 'closed'] },
    summary: { type: 'string' },
    count: { type: 'integer' },
    evidence: {
      type: 'object', additionalProperties: false, required: ['request_ids', 'audit_event_ids'],
      properties: { request_ids: ids, audit_event_ids: ids },
    },
    first_seen: { type: 'string', format: 'date-time' },
    last_seen: { type: 'string', format: 'date-time' },
  },
};

const MAX_BACKLOG = 100;

export interface MonitoringRouteDeps {
  alerts: AlertService;
  streams: StreamHub;
  seesAllTenants(principal: Principal): Promise<boolean>;
  /** Where the stream's token stands now (identity.recheck). */
  recheck(principal: Principal): Promise<Principal | undefined>;
}

export function monitoringRoutes(deps: MonitoringRouteDeps): ApiRoute[] {
  return [
    {
      method: 'GET', url: '/v1/alerts', tag: 'alerts', summary: 'List alerts, newest first',
      permission: 'alerts:read', operationId: 'alert.list', rateLimit: 'read',
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: listQueryProperties },
        response: { 200: listResponse(alertSchema), ...problemResponses },
      },
      async handler({ principal, query }: HandlerContext<unknown, unknown, { limit: number; starting_after?: string }>) {
        const all = await deps.seesAllTenants(principal);
        const rows = await deps.alerts.list(all ? undefined : principal.tenantId, query.limit, query.starting_after);
        return { status: 200, body: toPage(rows, query.limit) };
      },
    },
    {
      method: 'GET', url: '/v1/alerts/stream', tag: 'alerts', summary: 'Alerts as they are raised (Server-Sent Events, `event: alert`)',
      permission: 'alerts:read', operationId: 'alert.stream', rateLimit: 'read',
      schema: {
        headers: {
          type: 'object',
          properties: { 'last-event-id': { type: 'string', pattern: '^alr_[0-9a-z]{26}$', description: 'Resume: the alerts raised after this one are sent first' } },
        },
        response: { 200: { type: 'string', description: 'text/event-stream' }, ...problemResponses },
      },
      async handler({ principal, request, reply }) {
        // A place under the stream caps is taken first, so a refusal is an ordinary 429 answer
        // (nothing written yet) and streams opened all at once cannot overshoot the cap.
        const slot = deps.streams.admit(principal.clientId);
        let all: boolean;
        try {
          all = await deps.seesAllTenants(principal);
        } catch (err) {
          slot.release(); // not opened after all; once open, the stream gives its place back itself
          throw err;
        }
        const tenant = all ? undefined : principal.tenantId;
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
    },
    {
      method: 'GET', url: '/metrics', tag: 'monitoring', summary: 'Prometheus metrics (text exposition format)',
      permission: 'metrics:read', operationId: 'metrics.read', rateLimit: 'read',
      schema: { response: { 200: { type: 'string', description: 'Prometheus text format 0.0.4' }, ...problemResponses } },
      async handler({ principal }) {
        // The counters are the whole platform's (every tenant's transfers and amounts): a tenant's
        // principal would learn the others' activity from them.
        if (!(await deps.seesAllTenants(principal))) throw new AppError('forbidden', 'Metrics are platform-wide: only principals of the platform tenant read them');
        return { status: 200, body: await metricsRegistry.metrics(), headers: { 'content-type': metricsRegistry.contentType } };
      },
    },
  ];
}
