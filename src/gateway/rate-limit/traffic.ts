// Traffic protection as gateway steps. Before anything else on every request (except health
// checks): load shedding, then the per-IP limit (also in front of the /oauth/* hand-off), then the
// brute-force guard of the client-authentication endpoints (token, PAR, introspection,
// revocation). After authentication, per API route: the client's limit for the route's class
// (from its tier), then, for expensive classes, the per-client concurrency cap.
import { AUDIT_ACTIONS } from '../../audit/actions.js';
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler, preHandlerAsyncHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { AuditLog } from '../../audit/types.js';
import { AppError } from '../../errors.js';
import { sendProblem } from '../problem-handlers.js';
import { createAdmission, type Admission, type Refusal } from '../throttle/admission.js';
import { createLoadShedder } from '../throttle/load-shedder.js';
import { createConcurrencyGate, type ConcurrencyGate } from '../throttle/concurrency.js';
import { CLIENT_AUTH_PATHS, isOidcPath } from '../../lib/oauth-paths.js';
import type { Counters } from './counters.js';
import type { Decision } from './gcra.js';
import { rateLimitHeaders, retryAfterSeconds, type AppliedPolicy } from './headers.js';
import type { RateLimitSettings, RouteClass } from './settings.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The rate-limit policies that applied to this request, for the RateLimit headers. */
    rateLimits: AppliedPolicy[] | null;
    /**
     * The request's in-flight slots (process, address, HTTP/2 session, client). A long-lived
     * stream releases them once it is open: streams are counted apart (monitoring/sse.ts).
     */
    admission: Admission | null;
  }
}

export interface TrafficProtection {
  /** Registers the global steps; call before any other onRequest hook. */
  install(app: FastifyInstance): void;
  /** The per-route steps for a route of this class (run after authentication). */
  routeHooks(routeClass: RouteClass): { onRequest: onRequestAsyncHookHandler[]; preHandler: preHandlerAsyncHookHandler[] };
  /** Stops the load shedder's monitor; the counters are closed by their owner. */
  close(): void;
}

export interface TrafficDeps {
  settings: RateLimitSettings;
  /** The node's shared counters (counters.ts): the same brute-force guard the sign-in pages use. */
  counters: Pick<Counters, 'limiter' | 'bruteForce'>;
  /** Counts the 429s by class (a Prometheus counter: monitoring's vaultgate_rate_limited_requests_total). */
  rateLimited: { inc(labels: { class: string }): void };
  audit: AuditLog;
  logger: Logger;
  /** Whether a secret is the client's own (lets the right secret past a client-id lockout). */
  verifyClientSecret?: (clientId: string, secret: string) => Promise<boolean>;
}

// Health checks must answer even (especially) when the node is overloaded.
const EXEMPT = new Set(['/healthz', '/readyz']);
// The client-authentication endpoints share one failure budget, so switching endpoints buys an
// attacker nothing. Matched the way the authorization server's router matches: ignoring case and
// a trailing slash.
const clientAuthPath = (pathname: string) => CLIENT_AUTH_PATHS.has(pathname.toLowerCase().replace(/\/+$/, ''));
const REDIS_DOWN_RETRY_AFTER = '5';

/**
 * A refused admission: the process is overloaded (503, everyone's problem), or the caller's own
 * share is full (429, its problem alone: the others are still served).
 */
function refusal(reason: Refusal, overloadRetryAfterSeconds: number, rateLimited: RateLimitedError): AppError {
  if (reason === 'overloaded') {
    return new AppError('service_unavailable', 'The service is overloaded; retry shortly', {
      'Retry-After': String(overloadRetryAfterSeconds),
    });
  }
  const who = reason === 'address' ? 'this address' : 'this connection';
  return rateLimited(1000, `Too many requests in flight from ${who}`, `${reason}_in_flight`);
}

type RateLimitedError = (retryAfterMs: number, detail: string, label: string) => AppError;

/** The client id and secret of an HTTP Basic header (RFC 6749 §2.3.1: form-urlencoded), never logged. */
export function basicCredentials(authorization: string | undefined): { id: string; secret: string } | undefined {
  if (!authorization || !/^basic /i.test(authorization)) return undefined;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  const form = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
  try {
    return { id: form(decoded.slice(0, colon)), secret: form(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

// Keys hold a digest of the caller-chosen client id: bounded length, and no caller text in Redis.
const digest = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 22);

export function createTrafficProtection(deps: TrafficDeps): TrafficProtection {
  const { settings, audit, logger } = deps;
  const { limiter, bruteForce } = deps.counters;
  /** Every 429 of the limiter goes through here, so the metric counts each exactly once. */
  const rateLimited: RateLimitedError = (retryAfterMs, detail, label) => {
    deps.rateLimited.inc({ class: label });
    return new AppError('rate_limited', detail, { 'Retry-After': retryAfterSeconds(retryAfterMs) });
  };
  const shedder = createLoadShedder(settings.shedding);
  const admission = createAdmission(shedder, settings.shedding);
  const gates = new Map<RouteClass, ConcurrencyGate>();
  for (const [cls, c] of Object.entries(settings.concurrency)) gates.set(cls as RouteClass, createConcurrencyGate(c.max, c.queue));

  /**
   * A locked client id still gets through with its right secret: client ids are not secret (they
   * are in tokens and logs), so a lockout that refused the right secret too would let anyone shut
   * any client out. Wrong secrets stay locked out; the IP lockout has no such exception.
   */
  async function clientLockHolds(credentials: { id: string; secret: string } | undefined, clientLockMs: number): Promise<boolean> {
    if (clientLockMs === 0) return false;
    if (!credentials || !deps.verifyClientSecret) return true;
    return !(await deps.verifyClientSecret(credentials.id, credentials.secret).catch(() => false));
  }

  async function tokenEndpointGuard(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const ip = request.ip;
    const credentials = basicCredentials(request.headers.authorization);
    const clientId = credentials?.id;
    const ipKey = `tok:ip:${ip}`;
    const clientKey = clientId ? `tok:c:${digest(clientId)}` : undefined;
    const keys = [ipKey, ...(clientKey ? [clientKey] : [])];
    const [ipLockMs, clientLockMs] = await Promise.all([bruteForce.check([ipKey]), clientKey ? bruteForce.check([clientKey]) : 0]);
    const lockedMs = ipLockMs > 0 ? ipLockMs : (await clientLockHolds(credentials, clientLockMs)) ? clientLockMs : 0;
    if (lockedMs > 0) {
      // A guess refused because the client id is locked still counts against the address, or
      // the lockout would become a free yes/no oracle for the secret.
      if (ipLockMs === 0) void bruteForce.fail([ipKey]).catch(() => undefined);
      // Generic on purpose: the same answer whether the client exists or not.
      sendProblem(reply, rateLimited(lockedMs, 'Too many failed attempts; retry later', 'token_lockout'));
      return false;
    }
    reply.raw.once('finish', () => {
      const status = reply.raw.statusCode;
      if (status === 401) {
        void bruteForce.fail(keys).then(
          (started) => {
            for (const s of started) {
              const kind = s.key.startsWith('tok:ip:') ? 'ip' : 'client';
              logger.warn({ event: 'ratelimit.lockout', kind, failures: s.failures, lock_ms: s.lockMs }, 'token endpoint lockout');
              void audit
                .record({
                  action: AUDIT_ACTIONS.rateLimitLockout,
                  outcome: 'denied',
                  ip,
                  requestId: String(request.id),
                  details: { endpoint: 'token', kind, failures: s.failures, lock_seconds: Math.ceil(s.lockMs / 1000) },
                })
                .catch(() => undefined);
            }
          },
          () => undefined,
        );
      } else if (status < 400 && clientId) {
        // Only the client's counter: an attacker holding one valid client must not reset the IP's.
        void bruteForce.succeed([`tok:c:${digest(clientId)}`]).catch(() => undefined);
      }
    });
    return true;
  }

  function install(app: FastifyInstance): void {
    if (!app.hasRequestDecorator('rateLimits')) app.decorateRequest('rateLimits', null);
    if (!app.hasRequestDecorator('admission')) app.decorateRequest('admission', null);

    app.addHook('onRequest', async (request, reply) => {
      const q = request.url.indexOf('?');
      const pathname = q === -1 ? request.url : request.url.slice(0, q);
      if (EXEMPT.has(pathname)) return undefined;
      const session = (request.raw as { stream?: { session?: object } }).stream?.session;
      const admitted = admission.admit(request.ip, session);
      if (typeof admitted === 'string') return sendProblem(reply, refusal(admitted, settings.shedding.retryAfterSeconds, rateLimited));
      request.admission = admitted;
      // 'close' also fires for a response reset by the client or by the HTTP/2 stall guard.
      reply.raw.once('close', () => admitted.release());

      const decision = (await limiter.take(`ip:${request.ip}`, settings.ip, { failClosed: false })) as Decision;
      request.rateLimits = [{ name: 'ip', limit: settings.ip, decision }];
      if (!decision.allowed) return sendProblem(reply, rateLimited(decision.retryAfterMs, 'Too many requests from this address', 'ip'));
      // Requests handed raw to the authorization server skip onSend: their headers go on now.
      if (isOidcPath(pathname)) {
        for (const [k, v] of Object.entries(rateLimitHeaders(request.rateLimits))) reply.raw.setHeader(k, v);
      }

      if (request.method === 'POST' && clientAuthPath(pathname) && !(await tokenEndpointGuard(request, reply))) return reply;
      return undefined;
    });

    app.addHook('onSend', async (request, reply, payload) => {
      if (request.rateLimits) for (const [k, v] of Object.entries(rateLimitHeaders(request.rateLimits))) reply.header(k, v);
      return payload;
    });
  }

  function routeHooks(routeClass: RouteClass) {
    const limitClient: onRequestAsyncHookHandler = async (request) => {
      const principal = request.principal;
      if (!principal) return;
      if (request.admission && !request.admission.joinClient(principal.clientId)) {
        throw rateLimited(1000, 'Too many requests in flight from this client', 'client_in_flight');
      }
      const tierName = settings.clients[principal.clientId] ?? 'default';
      const limit = (settings.tiers[tierName] ?? settings.tiers.default)![routeClass];
      // Money routes fail closed when the shared counters are unreachable: a per-node fallback
      // would multiply the limit by the number of nodes exactly where it matters most.
      const decision = await limiter.take(`c:${principal.clientId}:${routeClass}`, limit, { failClosed: routeClass === 'money' });
      if (!decision) {
        throw new AppError('service_unavailable', 'Rate limiting is temporarily unavailable; retry shortly', {
          'Retry-After': REDIS_DOWN_RETRY_AFTER,
        });
      }
      (request.rateLimits ??= []).push({ name: `${tierName}.${routeClass}`, limit, decision });
      if (!decision.allowed) throw rateLimited(decision.retryAfterMs, `Rate limit of the ${routeClass} routes exceeded`, routeClass);
    };

    const gate = gates.get(routeClass);
    const capConcurrency: preHandlerAsyncHookHandler = async (request, reply) => {
      const principal = request.principal;
      if (!gate || !principal) return;
      // Listen before waiting: a client that disconnects while queued must still free its slot.
      let closed = false;
      const onClose = () => {
        closed = true;
      };
      reply.raw.once('close', onClose);
      const release = await gate.acquire(principal.clientId);
      reply.raw.off('close', onClose);
      if (!release) throw rateLimited(1000, 'Too many concurrent requests from this client', 'concurrency');
      // The slot is held until the response ends (or the client goes away).
      if (closed) release();
      else reply.raw.once('close', release);
    };
    return { onRequest: [limitClient], preHandler: gate ? [capConcurrency] : [] };
  }

  return {
    install,
    routeHooks,
    close() {
      shedder.close();
    },
  };
}
