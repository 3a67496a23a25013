// What logs, metrics, usage analytics, detection and denial audits call a request's route, for both
// kinds of route: an internal route's pattern and config (its table row), or, for a request the
// gateway dispatcher sent upstream, the upstream route's (/kyc/*). Never the raw URL, whose ids
// would make one series per object.
import type { FastifyRequest } from 'fastify';
import type { UpstreamRoute } from './upstream/upstream-route.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The upstream route this request is dispatched to (upstream/dispatcher.ts); null for the others. */
    upstreamRoute: UpstreamRoute | null;
  }
}

export interface RouteConfigView {
  readonly permission?: string;
  readonly operationId?: string;
  readonly upstream?: string;
  readonly policy?: string;
}

/** The config policy of the dispatcher's catch-all route: a request it does not send upstream is unmatched. */
export const DISPATCH_POLICY = 'upstream-dispatch' as const;

export function routePattern(request: FastifyRequest): string {
  if (request.upstreamRoute) return request.upstreamRoute.pattern;
  const config = request.routeOptions.config as RouteConfigView | undefined;
  return config?.policy === DISPATCH_POLICY ? 'unmatched' : (request.routeOptions.url ?? 'unmatched');
}

export function routeConfig(request: FastifyRequest): RouteConfigView | undefined {
  return request.upstreamRoute?.config ?? request.routeOptions.config;
}
