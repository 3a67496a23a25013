// The audit event of a refusal by the gateway itself: 401 (no, a bad or a no-longer-valid token)
// and 403 (the route's permission, or an owner check). Part of the pipeline, so it is written
// whether or not monitoring runs; after the response, so it never slows it.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import { routePattern } from './route-label.js';

const ID = /^[a-z]{2,4}_[0-9a-z]{26}$/;

/** The object ID a request named (path first, then the usual query filters). */
export function targetOf(request: FastifyRequest): string | undefined {
  const params = request.params as Record<string, unknown> | undefined;
  const query = request.query as Record<string, unknown> | undefined;
  for (const v of [params?.id, query?.account_id, query?.customer_id]) if (typeof v === 'string' && ID.test(v)) return v;
  return undefined;
}

export function denialAuditor(audit: AuditLog, permission: string, onFailure: (err: unknown) => void) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const status = reply.statusCode;
    if (status !== 401 && status !== 403) return;
    const p = request.principal;
    const route = routePattern(request);
    void audit
      .record({
        action: status === 401 ? AUDIT_ACTIONS.tokenRejected : AUDIT_ACTIONS.authzDenied,
        outcome: 'denied',
        tenantId: p?.tenantId,
        clientId: p?.clientId,
        userId: p?.userId,
        ip: request.clientIp,
        requestId: String(request.id),
        target: targetOf(request),
        details: status === 401 ? { route, method: request.method } : { route, method: request.method, permission },
      })
      .catch(onFailure);
  };
}
