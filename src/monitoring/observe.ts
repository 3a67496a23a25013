// The end of the gateway pipeline for monitoring: after each response, its metrics, the audit
// event of a refusal (401 and 403 are authentication and authorization denials), and the
// observation the detection rules evaluate. Runs after the response is sent: never slows it.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import type { Detector } from './detector.js';
import { auditAppendFailures, authenticationFailures, authorizationDenials, httpRequestDuration, transferAmount, transfersPosted } from './metrics.js';

const ID = /^[a-z]{2,4}_[0-9a-z]{26}$/;

/** The object ID a request named (path first, then the usual query filters). */
function targetOf(request: FastifyRequest): string | undefined {
  const params = request.params as Record<string, unknown> | undefined;
  const query = request.query as Record<string, unknown> | undefined;
  for (const v of [params?.id, query?.account_id, query?.customer_id]) if (typeof v === 'string' && ID.test(v)) return v;
  return undefined;
}

const MONEY_ROUTES: Record<string, 'transfer' | 'deposit'> = { 'transfer.create': 'transfer', 'deposit.create': 'deposit' };

export function createResponseObserver(deps: { audit: AuditLog; detector: Detector; logger: { warn(obj: object, msg?: string): void } }) {
  const record = (event: Parameters<AuditLog['record']>[0]) =>
    deps.audit.record(event).catch((err: unknown) => {
      auditAppendFailures.inc();
      deps.logger.warn({ event: 'audit.append_failed', action: event.action, error: (err as Error)?.name }, 'audit event could not be written');
    });

  return function observe(request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    httpRequestDuration.observe({ route, method: request.method, status: String(status) }, reply.elapsedTime / 1000);
    const config = request.routeOptions.config as { permission?: string; audit?: string } | undefined;
    if (!config?.permission) return; // public and unmatched routes: metrics only

    const p = request.principal;
    const requestId = String(request.id);
    const targetId = targetOf(request);
    const actor = { tenantId: p?.tenantId, clientId: p?.clientId, userId: p?.userId, ip: request.clientIp, requestId, target: targetId };
    if (status === 401) {
      authenticationFailures.inc({ kind: 'api_token' });
      void record({ action: AUDIT_ACTIONS.tokenRejected, outcome: 'denied', ...actor, details: { route, method: request.method } });
    } else if (status === 403) {
      authorizationDenials.inc({ route });
      void record({ action: AUDIT_ACTIONS.authzDenied, outcome: 'denied', ...actor, details: { route, method: request.method, permission: config.permission } });
    }
    deps.detector.observe({ kind: 'response', status, route, ip: request.clientIp, tenantId: p?.tenantId, clientId: p?.clientId, requestId, targetId });

    const kind = config.audit ? MONEY_ROUTES[config.audit] : undefined;
    if (kind && status === 201 && p && reply.getHeader('idempotent-replayed') === undefined) {
      const body = request.body as { amount: number; currency: string };
      transfersPosted.inc({ kind, currency: body.currency });
      transferAmount.inc({ kind, currency: body.currency }, body.amount);
      deps.detector.observe({ kind: 'posted', transferKind: kind, tenantId: p.tenantId, clientId: p.clientId, amount: BigInt(body.amount), currency: body.currency, requestId });
    }
  };
}
