// buildApp composes the gateway and the capabilities into a Fastify instance. It never listens:
// server.ts does, and tests may inject.
import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { auditAppendFailureHandler } from './audit/append-failure.js';
import type { AuditService } from './audit/audit-log.js';
import { createAuditQueries } from './audit/queries.js';
import { auditRoutes } from './audit/routes.js';
import { createPlatformScope } from './lib/platform-scope.js';
import type { Monitoring } from './monitoring/monitoring.js';
import { monitoringRoutes } from './monitoring/routes.js';
import { adminRoutes } from './admin/routes.js';
import { customerRoutes } from './customers/routes.js';
import type { Customers } from './customers/customer-service.js';
import { AppError, ConfigError } from './errors.js';
import type { Idempotency } from './gateway/idempotency.js';
import { createAllowedMethods } from './gateway/allowed-methods.js';
import { frameworkErrorHandler } from './gateway/framework-errors.js';
import { decodeJsonBody, parseJsonBody } from './gateway/json-body.js';
import { registerApiRoutes } from './gateway/pipeline.js';
import type { TrafficProtection } from './gateway/rate-limit/traffic.js';
import { installProblemHandlers, notFoundError, sendProblem } from './gateway/problem-handlers.js';
import { applyRawSecurityHeaders, applySecurityHeaders } from './gateway/security-headers.js';
import { checkHeaders, checkQuery, checkRequestTarget, markHttp2BodyOfUnknownLength } from './gateway/request-guards.js';
import { registerSystemRoutes } from './gateway/system-routes.js';
import { validatorCompiler } from './gateway/validation.js';
import type { Identity } from './identity/index.js';
import { ledgerRoutes } from './ledger/routes.js';
import type { Ledger } from './ledger/ledger-service.js';
import { holdRoutes } from './holds/routes.js';
import { consentRoutes } from './consents/routes.js';
import { latestVerification } from './audit/verifications.js';
import { keyRoutes } from './admin/key-routes.js';
import { userRoutes } from './admin/user-routes.js';
import type { DataKeys } from './crypto/data-keys.js';
import type { Consents } from './consents/consent-service.js';
import type { Holds } from './holds/hold-service.js';
import { webhookRoutes } from './webhooks/routes.js';
import { containmentRoutes } from './containment/routes.js';
import type { Freezes } from './containment/freeze.js';
import type { ReceiptKeys } from './receipts/keys.js';
import type { WebhookEndpoints } from './webhooks/endpoints.js';
import { ALL_SCOPES, type Principal } from './lib/principal.js';
import type { AuthRequest } from './lib/auth-request.js';
import type { Metrics } from './monitoring/metrics.js';
import { EMPTY_GATEWAY_SETTINGS, gatewayScopes, type GatewaySettings } from './gateway/upstream/config.js';
import { registerUpstreamDispatcher } from './gateway/upstream/dispatcher.js';
import { createUpstreamGateway, type UpstreamGateway } from './gateway/upstream/gateway.js';
import { withUpstreamOperations } from './gateway/upstream/openapi-listing.js';
import { DISPATCH_POLICY, routeConfig, routePattern } from './gateway/route-label.js';
import { analyticsRoutes } from './analytics/routes.js';
import { securityScanRoutes } from './security-scans/routes.js';
import { createScanStore } from './security-scans/store.js';
import type { UsageRecorder, UsageSample } from './analytics/usage-recorder.js';
import './analytics/body-bytes.js';
import type { Database } from './storage/types.js';
import { registerConsole, type ConsoleDeps } from './console/index.js';

export interface AppDeps {
  db: Database;
  /** The hash-chained audit log: writes, reads and the checkpoint key (issue 3). */
  audit: AuditService;
  identity: Identity;
  customers: Customers;
  ledger: Ledger;
  holds: Holds;
  /** Payment consents (docs/contract.md §10): enforced in the transfer's transaction. */
  consents: Consents;
  webhookEndpoints: WebhookEndpoints;
  freezes: Freezes;
  /** The data keys and their key-encryption key ring (key status and rotation over the API). */
  dataKeys: DataKeys;
  /** Signed receipts of money answers (docs/contract.md §10). */
  receipts?: ReceiptKeys | undefined;
  idempotency: Idempotency;
  logger: Logger;
  publicUrl: string;
  /** true when TLS is terminated here (HSTS is sent); false behind a TLS proxy. */
  tls: boolean;
  trustProxy: boolean;
  /** Rate limits, load shedding, brute-force guard (issue 5); absent = no traffic protection. */
  traffic?: TrafficProtection | undefined;
  /** Upstream services and their routes at start (docs/contract.md §6); absent = none until a reload adds some. */
  gateway?: GatewaySettings | undefined;
  /** Usage analytics of this node (docs/contract.md §7): every answer is counted, flushed once a second. */
  usage?: UsageRecorder | undefined;
  /** The node's Prometheus metrics (served at /metrics when monitoring is on). */
  metrics: Metrics;
  /** Starts a self-audit scan in the background unless one runs (POST /v1/security/scans); whether it started. */
  startScan?: (() => boolean) | undefined;
  /** Detection rules and alerts (issue 3); absent = no /metrics, no alerts. */
  monitoring?: Monitoring | undefined;
  /** The security console at /console (src/console); absent = no console. */
  console?: Pick<ConsoleDeps, 'secrets'> | undefined;
}

const MAX_BODY = 1024 * 1024; // hard ceiling; each route declares its own, smaller limit

function decodePath(pathname: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return pathname;
  }
}

/** Audit, alert and metrics routes, when their services are composed in. */
function observabilityRoutes(deps: AppDeps) {
  const seesAllTenants = createPlatformScope((clientId) => deps.identity.clients.get(clientId));
  return [
    ...auditRoutes({
      audit: deps.audit,
      queries: createAuditQueries(deps.db),
      seesAllTenants,
      latestVerification: () => latestVerification(deps.db),
    }),
    ...analyticsRoutes({ db: deps.db, seesAllTenants }),
    ...securityScanRoutes({ store: createScanStore(deps.db), seesAllTenants, startScan: deps.startScan }),
    ...(deps.monitoring
      ? monitoringRoutes({
          alerts: deps.monitoring.alerts,
          streams: deps.monitoring.streams,
          metrics: deps.metrics,
          seesAllTenants,
          recheck: (p) => deps.identity.recheck(p),
        })
      : []),
  ];
}

const byteLength = (value: unknown): number => {
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
};

/** One answer as usage analytics counts it: by the route's operation id (or pattern), never the raw URL. */
function usageSample(request: FastifyRequest, reply: FastifyReply): UsageSample {
  const config = routeConfig(request);
  return {
    tenantId: request.principal?.tenantId ?? '',
    clientId: request.principal?.clientId ?? '',
    route: config?.operationId ?? routePattern(request),
    upstream: config?.upstream ?? '',
    status: reply.statusCode,
    latencyMs: reply.elapsedTime,
    bytesIn: request.bodyBytes?.in?.() ?? byteLength(request.headers['content-length']),
    bytesOut: request.bodyBytes?.out?.() ?? byteLength(reply.getHeader('content-length')),
  };
}

export interface BuiltApp {
  app: FastifyInstance;
  /** The upstream route table in force; `replace` puts a reloaded one in force. */
  upstreams: UpstreamGateway;
}

export async function buildApp(deps: AppDeps): Promise<BuiltApp> {
  const app = Fastify({
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    // One line per request, written in onResponse below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    requestIdHeader: false, // never trust a caller's id as ours
    // One hop: the address the TLS-terminating proxy appended to X-Forwarded-For, never the
    // entries before it, which the caller writes (and would use to dodge per-IP limits).
    trustProxy: deps.trustProxy ? (_address: string, hop: number) => hop === 0 : false,
    bodyLimit: MAX_BODY,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    routerOptions: { maxParamLength: 100, ignoreTrailingSlash: false },
    frameworkErrors: frameworkErrorHandler({ hsts: deps.tls }),
  });

  // Every route must carry a policy: API routes get theirs from the route table, the few public
  // ones say `policy: 'public'`. Anything else is a mistake that must not reach production.
  const allowedMethods = createAllowedMethods();
  app.addHook('onRoute', (route) => {
    const config = route.config as { policy?: string; permission?: string } | undefined;
    if (!config?.permission && !config?.policy) {
      throw new ConfigError(`route ${String(route.method)} ${route.url}: no policy declared`);
    }
    // The dispatcher's catch-all stands for the upstream routes, whose methods it answers itself.
    if (config.policy !== DISPATCH_POLICY) allowedMethods.add(route.method, route.url);
  });

  app.removeAllContentTypeParsers();
  app.decorateRequest('bodyBytes', null);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    // Counted here: a chunked body has no Content-Length for usage analytics to read.
    const length = (body as Buffer).length;
    request.bodyBytes = { in: () => length };
    try {
      done(null, parseJsonBody(decodeJsonBody(body as Buffer, request.headers['content-type'])));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  // Strict validation: no coercion of bodies, unknown properties refused (see validation.ts).
  app.setValidatorCompiler(validatorCompiler);
  installProblemHandlers(app, allowedMethods);

  // Every answer carries the request id, the refusals of the traffic steps included; headers an
  // HTTP/2 client sent beyond the limit are refused before they cost anything else.
  app.decorateRequest('clientIp', '');
  // The steps both kinds of route share: authentication, the record of an exercised scope, and what
  // happens to a refusal's or a proxied write's audit event that could not be written (counted and
  // logged, never thrown). The upstream table is created here, first, because the denylist reads it.
  const onAuditFailure = auditAppendFailureHandler({ counter: deps.metrics.auditAppendFailures, logger: deps.logger });
  const authenticate = (request: AuthRequest) => deps.identity.authenticate(request);
  const onAuthorized = (principal: Principal, permission: string) => deps.identity.usage.record(principal.clientId, permission);
  const upstreams = createUpstreamGateway(deps.gateway ?? EMPTY_GATEWAY_SETTINGS, {
    authenticate,
    onAuthorized,
    traffic: deps.traffic,
    signer: deps.identity.assertions,
    metrics: deps.metrics,
    audit: deps.audit,
    tls: deps.tls,
    onAuditFailure,
  });
  app.addHook('onClose', async () => upstreams.close());
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('X-Request-Id', request.id);
    // Read now: an HTTP/2 stream's socket is gone by the time the response has ended, and the
    // log line, the audit event of a refusal and the per-IP detection rules are written then.
    request.clientIp = request.ip;
    // The global denylist (gateway.deny_ips): before anything else, for every route.
    if (upstreams.current().denied?.contains(request.ip)) throw new AppError('forbidden', 'This address may not call this service');
    checkRequestTarget(request.url);
    checkHeaders(request.raw);
  });

  // Then load shedding and the per-IP limit, before anything costs work, including the /oauth/*
  // hand-off below.
  deps.traffic?.install(app);

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // RFC 6750 §2.3 allows tokens in the query; we do not (they end up in logs and histories).
    const query = request.query as Record<string, unknown> | undefined;
    if (query && Object.hasOwn(query, 'access_token')) {
      return sendProblem(reply, new AppError('invalid_request', 'Access tokens are accepted only in the Authorization header'));
    }
    checkQuery(query);
    const pathname = request.url.split('?')[0] ?? '';
    // A %-escaped spelling of an authorization-server path is never handed over (see isOidcPath):
    // refused here, before its body would be parsed.
    if (pathname.includes('%') && deps.identity.isOidcPath(decodePath(pathname))) {
      return sendProblem(reply, new AppError('not_found'));
    }
    if (deps.identity.isOidcPath(pathname)) {
      // The authorization server reads the raw request itself: hand it over before parsing.
      reply.hijack();
      applyRawSecurityHeaders(reply.raw, String(request.id), { hsts: deps.tls });
      // Hijacked replies skip onResponse: write their one log line here (path only: the query of
      // an authorization request is not logged).
      const started = process.hrtime.bigint();
      reply.raw.once('finish', () => {
        request.log.info(
          {
            req_id: request.id,
            method: request.method,
            route: pathname,
            status: reply.raw.statusCode,
            ms: Number((process.hrtime.bigint() - started) / 100_000n) / 10,
            ip: request.clientIp,
          },
          'request',
        );
      });
      // The authorization server's body parser must see an HTTP/2 body without Content-Length.
      markHttp2BodyOfUnknownLength(request.raw);
      deps.identity.handle(request.raw, reply.raw, { ip: request.clientIp, requestId: String(request.id) });
    }
    return undefined;
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    applySecurityHeaders(reply, { hsts: deps.tls });
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const p = request.principal;
    request.log.info(
      {
        req_id: request.id,
        method: request.method,
        route: routePattern(request),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        tenant: p?.tenantId,
        client: p?.clientId,
        ip: request.clientIp,
      },
      'request',
    );
    deps.monitoring?.observeResponse(request, reply);
    deps.usage?.record(usageSample(request, reply));
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'vaultgate',
        version: '1',
        description: 'Customers, accounts, a double-entry ledger and transfers behind an OAuth 2.0 / FAPI 2.0 gateway.',
      },
      servers: [{ url: deps.publicUrl }],
      components: {
        securitySchemes: {
          bearer: {
            type: 'oauth2',
            flows: {
              clientCredentials: {
                tokenUrl: `${deps.publicUrl}/oauth/token`,
                scopes: Object.fromEntries(ALL_SCOPES.map((s) => [s, s])),
              },
            },
          },
        },
      },
    },
  });

  // The proxied operations join vaultgate's own in the document, rebuilt when the table changes.
  let listed: { version: number; document: object } | undefined;
  const openapi = () => {
    const table = upstreams.current();
    if (listed?.version !== table.generation) {
      const document = withUpstreamOperations(app.swagger() as Record<string, unknown>, table.settings, gatewayScopes(table.settings));
      listed = { version: table.generation, document };
    }
    return listed;
  };
  registerSystemRoutes(app, {
    ping: () => deps.db.ping(),
    openapi,
    receiptKeys: deps.receipts ? () => deps.receipts!.publicJwks() : undefined,
  });
  deps.identity.registerPages(app);
  if (deps.console) {
    const { db, identity, publicUrl: issuer, tls: hsts, logger } = deps;
    registerConsole(app, { db, identity, issuer, hsts, logger, secrets: deps.console.secrets });
  }
  // The authorization server's paths are declared as public routes so they show in the route
  // table; the onRequest hook above hands them over before any body parsing. What reaches these
  // handlers is a path the hook did not hand over (a %-encoded spelling of one): not found.
  const oidcHandled = async () => {
    throw new AppError('not_found');
  };
  app.all('/.well-known/openid-configuration', { config: { policy: 'public' as const }, schema: { hide: true } }, oidcHandled);
  app.all('/.well-known/oauth-authorization-server', { config: { policy: 'public' as const }, schema: { hide: true } }, oidcHandled);
  app.all('/oauth/*', { config: { policy: 'public' as const }, schema: { hide: true } }, oidcHandled);

  registerApiRoutes(
    app,
    [
      ...customerRoutes(deps.customers),
      ...ledgerRoutes(deps.ledger, deps.customers, deps.consents),
      ...consentRoutes(deps.consents),
      ...holdRoutes(deps.holds, deps.ledger),
      ...webhookRoutes(deps.db, deps.webhookEndpoints),
      ...containmentRoutes(
        deps.freezes,
        createPlatformScope((clientId) => deps.identity.clients.get(clientId)),
      ),
      ...observabilityRoutes(deps),
      ...adminRoutes(deps.identity),
      ...userRoutes(deps.identity.users),
      ...keyRoutes({
        db: deps.db,
        dataKeys: deps.dataKeys,
        receipts: deps.receipts,
        audit: deps.audit,
        seesAllTenants: createPlatformScope((clientId) => deps.identity.clients.get(clientId)),
      }),
    ],
    {
      authenticate,
      onAuthorized,
      idempotency: deps.idempotency,
      traffic: deps.traffic,
      audit: deps.audit,
      onAuditFailure,
      receipts: deps.receipts,
    },
  );

  registerUpstreamDispatcher(app, upstreams, (request) => notFoundError(request, allowedMethods));

  await app.ready();
  return { app, upstreams };
}
