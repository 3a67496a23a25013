// One upstream route compiled into the steps of the pipeline it walks, in order: the route's IP
// allowlist (before authentication), authentication (unless public), the client's limit for the
// route's class, the permission for the method; then the handler: the upstream OpenAPI check, the
// circuit breaker, the signed identity assertion, the request with the headers of §6, and the
// answer streamed back. A proxied write is audited when its answer is sent.
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler, preHandlerAsyncHookHandler } from 'fastify';
import { countBytes } from '../../analytics/body-bytes.js';
import { AUDIT_ACTIONS } from '../../audit/actions.js';
import type { AuditLog } from '../../audit/types.js';
import { AppError } from '../../errors.js';
import { denialAuditor } from '../denials.js';
import { authenticateStep, authorizeStep, type GatewayDeps } from '../pipeline.js';
import type { RouteClass } from '../rate-limit/settings.js';
import type { AssertionSigner } from './assertion.js';
import { BODY_IDLE_MS } from './client.js';
import type { UpstreamRouteSettings } from './config.js';
import { callerResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { compileIpRules } from './ip-rules.js';
import { checkOperation, hasBody } from './operation-check.js';
import type { UpstreamConnection } from './pools.js';

export interface UpstreamRouteDeps extends Pick<GatewayDeps, 'authenticate' | 'onAuthorized' | 'traffic'> {
  signer: AssertionSigner;
  audit: AuditLog;
  onAuditFailure(err: unknown, action: string): void;
  /** true when TLS is terminated here: the upstream is told proto=https. */
  tls: boolean;
  /** Per-upstream Prometheus series (monitoring's metrics; structurally typed, so the gateway does not import monitoring). */
  metrics?: UpstreamMetrics | undefined;
}

export interface UpstreamMetrics {
  upstreamRequests: { inc(labels: { upstream: string; outcome: string }): void };
  upstreamDuration: { observe(labels: { upstream: string }, seconds: number): void };
  upstreamBreakerState: { set(labels: { upstream: string }, value: number): void };
}

/** What the route table holds per route: its settings, its pipeline steps and its handler. */
export interface UpstreamRoute {
  readonly settings: UpstreamRouteSettings;
  /** The route pattern in logs and metrics, like an internal route's: /kyc/* */
  readonly pattern: string;
  /** What logs, usage analytics and detection read of an internal route's config. */
  readonly config: { readonly permission: string; readonly upstream: string; readonly rateLimit: RouteClass };
  readonly onRequest: readonly onRequestAsyncHookHandler[];
  readonly preHandler: readonly preHandlerAsyncHookHandler[];
  handler(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply>;
  onResponse(request: FastifyRequest, reply: FastifyReply): void;
}

const READS = new Set(['GET', 'HEAD']);
/** A route class for an upstream route that names none: writes are the conservative default. */
const DEFAULT_CLASS: RouteClass = 'write';
const statusClass = (status: number) => `${Math.floor(status / 100)}xx`;

/** The upstream path: the route prefix stripped (or not), the query kept as sent. */
function upstreamPath(url: string, route: UpstreamRouteSettings): string {
  return route.stripPrefix ? `/${url.slice(route.prefix.length)}` : url;
}

export function compileUpstreamRoute(route: UpstreamRouteSettings, connection: UpstreamConnection, deps: UpstreamRouteDeps): UpstreamRoute {
  const { client, breaker } = connection;
  const rateLimit = (route.rateLimit ?? DEFAULT_CLASS) as RouteClass;
  const permissionFor = (method: string) => (READS.has(method) ? route.permission : route.writePermission);
  const isPublic = (method: string) => permissionFor(method) === 'public';
  const limits = deps.traffic?.routeHooks(rateLimit) ?? { onRequest: [], preHandler: [] };
  const authenticate = authenticateStep(deps);
  const authorize = authorizeStep(deps, permissionFor);

  // Before authentication: an address outside the route's allowlist learns nothing more. A route
  // without one has no such step (no address parsed per request for nothing). The global
  // denylist is checked for every route in app.ts.
  const ipRules = compileIpRules({ allow: route.allowIps });
  const checkIp: onRequestAsyncHookHandler = async (request) => {
    if (!ipRules.isAllowed(request.ip)) throw new AppError('forbidden', 'This address may not call this route');
  };
  // A public route needs no token; one that is sent is still checked (and then asserted upstream).
  const authenticateUnlessPublic: onRequestAsyncHookHandler = async (request) => {
    if (!isPublic(request.method) || request.headers.authorization !== undefined) await authenticate(request);
  };
  const authorizeUnlessPublic: onRequestAsyncHookHandler = async (request) => {
    if (!isPublic(request.method)) await authorize(request);
  };

  // Refusals are audited as on vaultgate's own routes; other writes as proxied writes.
  const onDenialFailure = (err: unknown) => deps.onAuditFailure(err, 'denial');
  const denials = {
    read: denialAuditor(deps.audit, route.permission, onDenialFailure),
    write: denialAuditor(deps.audit, route.writePermission, onDenialFailure),
  };

  const count = (outcome: string) => deps.metrics?.upstreamRequests.inc({ upstream: route.upstream, outcome });

  async function handler(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const declared = Number(request.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > route.bodyLimitBytes) throw new AppError('payload_too_large');
    const path = upstreamPath(request.url, route);
    const body = route.openapi
      ? await checkOperation(route.openapi.api, request, path, {
          allowedMethods: route.methods,
          bodyLimit: route.bodyLimitBytes,
          bodyIdleMs: Math.min(connection.settings.timeoutMs, BODY_IDLE_MS),
        })
      : hasBody(request)
        ? (request.body as Readable)
        : undefined;

    const admission = breaker.tryAcquire();
    if (!admission.allowed) {
      count('upstream_unavailable');
      throw new AppError('upstream_unavailable', `The ${route.upstream} service is unavailable; retry later`, {
        'Retry-After': String(admission.retryAfterSeconds),
      });
    }
    const p = request.principal;
    const assertion = p
      ? await deps.signer.sign({
          audience: route.upstream,
          subject: p.userId ?? p.clientId,
          tenantId: p.tenantId,
          clientId: p.clientId,
          scope: [...p.scopes].join(' '),
          cnf: p.cnf,
        })
      : undefined;
    const headers = upstreamRequestHeaders(request.headers, {
      requestId: String(request.id),
      clientIp: request.ip,
      proto: deps.tls ? 'https' : 'http',
      host: request.host,
      assertion,
    });
    let answer;
    const started = performance.now();
    try {
      answer = await client.send({ method: request.method, path, headers, body, bodyLimit: route.bodyLimitBytes });
    } catch (err) {
      // The caller's oversized body is its own fault, not the upstream's.
      if (err instanceof AppError && err.code !== 'payload_too_large' && err.code !== 'request_timeout') admission.permit.failure();
      else admission.permit.cancel();
      // Not an AppError: the caller went away mid-body (nothing to answer, nothing to blame).
      count(err instanceof AppError ? err.code : 'client_aborted');
      throw err;
    }
    deps.metrics?.upstreamDuration.observe({ upstream: route.upstream }, (performance.now() - started) / 1000);
    count(statusClass(answer.status));
    if (answer.status >= 500) admission.permit.failure();
    else admission.permit.success();
    if (route.maskErrors && answer.status >= 500) {
      // The upstream's own error page may name its software or its internals: not the caller's business.
      answer.body.resume();
      throw new AppError('upstream_error', `The ${route.upstream} service failed`);
    }
    reply.code(answer.status);
    for (const [k, v] of Object.entries(callerResponseHeaders(answer.headers))) reply.header(k, v);
    // Usage analytics: the bytes sent upstream, and those of an answer streamed without a length
    // (counting costs a stream hop, so only then).
    const counted = answer.headers['content-length'] === undefined ? countBytes(answer.body) : undefined;
    request.bodyBytes = { in: () => answer.bytesIn(), ...(counted ? { out: counted.count } : {}) };
    return reply.send(counted?.stream ?? answer.body);
  }

  function onResponse(request: FastifyRequest, reply: FastifyReply): void {
    if (reply.statusCode === 401 || reply.statusCode === 403) {
      void denials[READS.has(request.method) ? 'read' : 'write'](request, reply);
      return;
    }
    if (READS.has(request.method)) return;
    const p = request.principal;
    void deps.audit
      .record({
        action: AUDIT_ACTIONS.proxiedWrite,
        outcome: reply.statusCode < 400 ? 'success' : 'failure',
        tenantId: p?.tenantId,
        clientId: p?.clientId,
        userId: p?.userId,
        ip: request.clientIp,
        requestId: String(request.id),
        details: {
          upstream: route.upstream,
          method: request.method,
          path: request.url.split('?')[0]!.slice(0, 200),
          status: reply.statusCode,
        },
      })
      .catch((err: unknown) => deps.onAuditFailure(err, AUDIT_ACTIONS.proxiedWrite));
  }

  return {
    settings: route,
    pattern: `${route.prefix}*`,
    config: { permission: route.permission, upstream: route.upstream, rateLimit },
    onRequest: [...(route.allowIps === undefined ? [] : [checkIp]), authenticateUnlessPublic, ...limits.onRequest, authorizeUnlessPublic],
    preHandler: limits.preHandler,
    handler,
    onResponse,
  };
}
