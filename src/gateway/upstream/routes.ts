// Upstream routes: rows of the same table as vaultgate's own routes, walking the same pipeline
// (request id, IP rules, per-IP limit, authentication, the client's limit for the route's class,
// the route's permission for the method), then handed to the upstream's client with the headers
// of §6 and the signed identity assertion. The answer is streamed back, never buffered whole.
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AUDIT_ACTIONS } from '../../audit/actions.js';
import type { AuditLog } from '../../audit/types.js';
import { AppError } from '../../errors.js';
import { authenticateStep, authorizeStep, type GatewayDeps } from '../pipeline.js';
import { markHttp2BodyOfUnknownLength } from '../request-guards.js';
import type { RouteClass } from '../rate-limit/settings.js';
import type { AssertionSigner } from './assertion.js';
import { createCircuitBreaker, type CircuitBreaker } from './circuit-breaker.js';
import { createUpstreamClient, type UpstreamClient } from './client.js';
import { HTTP_METHODS, type GatewaySettings, type UpstreamRouteSettings } from './config.js';
import { callerResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { compileIpRules, type IpRules } from './ip-rules.js';

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

const BREAKER_GAUGE = { closed: 0, half_open: 1, open: 2 } as const;
const statusClass = (status: number) => `${Math.floor(status / 100)}xx`;

export interface UpstreamRuntime {
  /** Closes the upstream pools (after the server stopped taking requests). */
  close(): Promise<void>;
}

const READS = new Set(['GET', 'HEAD']);
/** A route class for an upstream route that names none: writes are the conservative default. */
const DEFAULT_CLASS: RouteClass = 'write';

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** The upstream path: the route prefix stripped (or not), the query kept as sent. */
function upstreamPath(url: string, route: UpstreamRouteSettings): string {
  if (!route.stripPrefix) return url;
  const rest = url.slice(route.prefix.length);
  return `/${rest}`;
}

export function registerUpstreamRoutes(app: FastifyInstance, settings: GatewaySettings, deps: UpstreamRouteDeps): UpstreamRuntime {
  const clients = new Map<string, UpstreamClient>();
  const breakers = new Map<string, CircuitBreaker>();
  for (const [name, upstream] of Object.entries(settings.upstreams)) {
    clients.set(name, createUpstreamClient(upstream));
    deps.metrics?.upstreamBreakerState.set({ upstream: name }, BREAKER_GAUGE.closed);
    breakers.set(
      name,
      createCircuitBreaker({
        ...upstream.circuitBreaker,
        onStateChange: (state) => deps.metrics?.upstreamBreakerState.set({ upstream: name }, BREAKER_GAUGE[state]),
      }),
    );
  }
  const authenticate = authenticateStep(deps);

  function routeHandlers(route: UpstreamRouteSettings) {
    const client = clients.get(route.upstream)!;
    const breaker = breakers.get(route.upstream)!;
    // The global denylist is checked for every route in app.ts; this is the route's own allowlist.
    const ipRules: IpRules = compileIpRules({ allow: route.allowIps });
    const permissionFor = (method: string) => (READS.has(method) ? route.permission : route.writePermission);
    const isPublic = (method: string) => permissionFor(method) === 'public';
    const limits = deps.traffic?.routeHooks((route.rateLimit ?? DEFAULT_CLASS) as RouteClass) ?? { onRequest: [], preHandler: [] };
    const authorize = authorizeStep(deps, permissionFor);

    // Before authentication: an address outside the route's allowlist learns nothing more. A route
    // without one has no such step (no address parsed per request for nothing).
    const checkIp = async (request: FastifyRequest) => {
      if (!ipRules.isAllowed(request.ip)) throw new AppError('forbidden', 'This address may not call this route');
    };
    const ipSteps = route.allowIps === undefined ? [] : [checkIp];
    // A public route needs no token; one that is sent is still checked (and then asserted upstream).
    const authenticateUnlessPublic = async (request: FastifyRequest) => {
      if (!isPublic(request.method) || request.headers.authorization !== undefined) await authenticate(request);
    };
    const authorizeUnlessPublic = async (request: FastifyRequest) => {
      if (!isPublic(request.method)) await authorize(request);
    };

    async function handler(request: FastifyRequest, reply: FastifyReply) {
      const declared = Number(request.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > route.bodyLimitBytes) throw new AppError('payload_too_large');
      const count = (outcome: string) => deps.metrics?.upstreamRequests.inc({ upstream: route.upstream, outcome });
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
        answer = await client.send({
          method: request.method,
          path: upstreamPath(request.url, route),
          headers,
          body: hasBody(request) ? (request.body as Readable) : undefined,
          bodyLimit: route.bodyLimitBytes,
        });
      } catch (err) {
        if (err instanceof AppError && err.code !== 'payload_too_large') admission.permit.failure();
        else admission.permit.cancel();
        count(err instanceof AppError ? err.code : 'internal_error');
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
      return reply.send(answer.body);
    }

    const auditWrite = async (request: FastifyRequest, reply: FastifyReply) => {
      if (READS.has(request.method) || reply.statusCode === 401 || reply.statusCode === 403) return;
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
    };

    return { ipSteps, authenticateUnlessPublic, authorizeUnlessPublic, limits, handler, auditWrite };
  }

  void app.register(async (scope) => {
    // The caller's body goes to the upstream as it arrives: nothing here parses it.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    scope.addHook('onRequest', async (request) => markHttp2BodyOfUnknownLength(request.raw));
    for (const route of settings.routes) {
      const h = routeHandlers(route);
      const config = { permission: route.permission, upstream: route.upstream, rateLimit: route.rateLimit ?? DEFAULT_CLASS };
      scope.route({
        method: [...route.methods],
        url: `${route.prefix}*`,
        schema: { hide: true },
        config,
        onRequest: [...h.ipSteps, h.authenticateUnlessPublic, ...h.limits.onRequest, h.authorizeUnlessPublic],
        ...(h.limits.preHandler.length > 0 ? { preHandler: h.limits.preHandler } : {}),
        onResponse: [h.auditWrite],
        handler: h.handler,
      });
      const others = HTTP_METHODS.filter((m) => !route.methods.includes(m));
      if (others.length > 0) {
        scope.route({
          method: others,
          url: `${route.prefix}*`,
          schema: { hide: true },
          config: { policy: 'public' as const },
          handler: async () => {
            throw new AppError('method_not_allowed', undefined, { Allow: route.methods.join(', ') });
          },
        });
      }
    }
  });

  return {
    async close() {
      await Promise.all([...clients.values()].map((c) => c.close()));
    },
  };
}
