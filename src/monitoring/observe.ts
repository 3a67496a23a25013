// The end of the gateway pipeline for monitoring: after each response, its metrics and the
// observation the detection rules evaluate (the audit event of a refusal is the gateway's own:
// gateway/denials.ts). Runs after the response is sent: never slows it.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { targetOf } from '../gateway/denials.js';
import { routeConfig, routePattern } from '../gateway/route-label.js';
import type { Detector } from './detector.js';
import type { Metrics } from './metrics.js';

/**
 * On an upstream route the object is somewhere in the path vaultgate does not know the shape of:
 * each distinct path counts as a distinct object for the detection rules (object scanning through
 * a proxied service). A digest, never the path: it may hold personal data.
 */
function upstreamTarget(request: FastifyRequest, config: { upstream?: string }): string | undefined {
  if (config.upstream === undefined) return undefined;
  const pathname = request.url.split('?')[0] ?? '';
  return `up:${createHash('sha256').update(pathname).digest('base64url').slice(0, 16)}`;
}

const MONEY_ROUTES: Record<string, 'transfer' | 'deposit'> = { 'transfer.create': 'transfer', 'deposit.create': 'deposit' };

export function createResponseObserver(deps: { detector: Detector; metrics: Metrics }) {
  const { authenticationFailures, authorizationDenials, httpRequestDuration, transferAmount, transfersPosted } = deps.metrics;
  return function observe(request: FastifyRequest, reply: FastifyReply): void {
    const route = routePattern(request);
    const status = reply.statusCode;
    httpRequestDuration.observe({ route, method: request.method, status: String(status) }, reply.elapsedTime / 1000);
    const config = routeConfig(request);
    if (!config?.permission) return; // public and unmatched routes: metrics only

    const p = request.principal;
    const requestId = String(request.id);
    // The object matters to the rules only for a refusal or a miss (object scanning): digest only then.
    const targetId = targetOf(request) ?? (status === 403 || status === 404 ? upstreamTarget(request, config) : undefined);
    if (status === 401) authenticationFailures.inc({ kind: 'api_token' });
    else if (status === 403) authorizationDenials.inc({ route });
    deps.detector.observe({
      kind: 'response',
      status,
      route,
      ip: request.clientIp,
      tenantId: p?.tenantId,
      clientId: p?.clientId,
      requestId,
      targetId,
    });

    if (config.operationId === 'transfer.reverse' && status === 201 && p && reply.getHeader('idempotent-replayed') === undefined) {
      deps.detector.observe({ kind: 'reversed', tenantId: p.tenantId, clientId: p.clientId, requestId, accountId: request.debitedAccount });
    }
    const kind = config.operationId ? MONEY_ROUTES[config.operationId] : undefined;
    if (kind && status === 201 && p && reply.getHeader('idempotent-replayed') === undefined) {
      const body = request.body as { amount: number; currency: string; source_account_id?: string };
      transfersPosted.inc({ kind, currency: body.currency });
      transferAmount.inc({ kind, currency: body.currency }, body.amount);
      deps.detector.observe({
        kind: 'posted',
        transferKind: kind,
        tenantId: p.tenantId,
        clientId: p.clientId,
        amount: BigInt(body.amount),
        currency: body.currency,
        requestId,
        accountId: kind === 'transfer' ? body.source_account_id : undefined,
      });
    }
  };
}
