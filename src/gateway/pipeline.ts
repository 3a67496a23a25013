// The gateway: every API route is registered here from the route table, and every request walks
// the same steps before its handler. Global hooks (app.ts) come first: request id, load shedding,
// the per-IP limit. Then, per route: authenticate (Bearer or DPoP, certificate binding) → the
// client's rate limit for the route's class → authorize (the route's one permission) → strict
// validation → the concurrency cap (money routes) → handler (money routes inside the idempotency
// transaction, with their audit event) → serialization through the declared response schema →
// the audit event of a 401/403 (denials.ts), metrics and one redacted log line (app.ts onResponse).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { peerCertificate, type AuthRequest } from '../lib/auth-request.js';
import type { Principal } from '../lib/principal.js';
import type { AuditLog } from '../audit/types.js';
import { denialAuditor } from './denials.js';
import { IDEMPOTENCY_KEY_PATTERN, requestHash, type Idempotency } from './idempotency.js';
import { sendProblem } from './problem-handlers.js';
import type { ReceiptKeys } from '../receipts/keys.js';
import { receiptHeaders } from '../receipts/receipt.js';
import type { TrafficProtection } from './rate-limit/traffic.js';
import { assertPolicies, type ApiRoute, type HandlerContext } from './route-table.js';

export interface GatewayDeps {
  /** Gets what sender constraints need: method, URL, the DPoP proof and the TLS client certificate. */
  authenticate(request: AuthRequest): Promise<Principal>;
  /** Called once a request passed its route's permission check (least-privilege usage tracking). */
  onAuthorized?: ((principal: Principal, permission: string) => void) | undefined;
  idempotency: Idempotency;
  /** Per-client, per-class rate limit and concurrency cap (issue 5). */
  traffic?: Pick<TrafficProtection, 'routeHooks'> | undefined;
  /** Where the gateway's own refusals (401, 403) are recorded. */
  audit: AuditLog;
  /** A refusal's audit event could not be written (it is counted and logged, never thrown). */
  onAuditFailure(err: unknown, action: string): void;
  /** Signs every 2xx answer of a money-moving POST (docs/contract.md §10); absent: no receipts. */
  receipts?: ReceiptKeys | undefined;
}

const JSON_TYPE = 'application/json; charset=utf-8';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
    /** The account a money handler debited (for the detection rules that may freeze it). */
    debitedAccount?: string | undefined;
  }
  interface FastifyContextConfig {
    /**
     * 'public' for the few routes without a permission; API routes carry the rest. The upstream
     * dispatcher's catch-all is 'upstream-dispatch': each upstream route has its own permission.
     */
    policy?: 'public' | 'upstream-dispatch';
    permission?: string;
    operationId?: string;
    rateLimit?: string;
  }
}

const DEFAULT_BODY_LIMIT = 16 * 1024;

function insufficientScope(scope: string): AppError {
  return new AppError('insufficient_scope', `This route needs the permission ${scope}`, {
    'WWW-Authenticate': `Bearer realm="vaultgate", error="insufficient_scope", scope="${scope}"`,
  });
}

/** The authenticate step: Bearer or DPoP, certificate binding; sets request.principal or throws 401. */
export function authenticateStep(deps: Pick<GatewayDeps, 'authenticate'>) {
  return async (request: FastifyRequest): Promise<void> => {
    request.principal = await deps.authenticate({
      authorization: request.headers.authorization,
      dpop: request.headers.dpop,
      method: request.method,
      url: request.url,
      certificate: () => peerCertificate(request.raw),
      ip: request.ip,
      requestId: String(request.id),
    });
  };
}

/**
 * The authorize step: the one permission this request needs (an upstream route's depends on the
 * method); and a token that carries a payment consent only where the route enforces it.
 */
export function authorizeStep(deps: Pick<GatewayDeps, 'onAuthorized'>, permissionFor: (method: string) => string, consentBound = false) {
  return async (request: FastifyRequest): Promise<void> => {
    if (request.principal?.consentId !== undefined && !consentBound) {
      throw new AppError('consent_mismatch', 'This token carries a payment consent: it can make that payment and nothing else');
    }
    const permission = permissionFor(request.method);
    if (!request.principal?.scopes.has(permission)) throw insufficientScope(permission);
    deps.onAuthorized?.(request.principal, permission);
  };
}

export function registerApiRoutes(app: FastifyInstance, routes: readonly ApiRoute[], deps: GatewayDeps): void {
  assertPolicies(routes);
  if (!app.hasRequestDecorator('principal')) app.decorateRequest('principal', undefined);

  for (const route of routes) {
    const authenticate = authenticateStep(deps);
    const authorize = authorizeStep(deps, () => route.permission, route.consentBound === true);
    const requireIdempotencyKey = async (request: FastifyRequest) => {
      const key = request.headers['idempotency-key'];
      if (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
        throw new AppError('validation_failed', 'The Idempotency-Key header is required: 1–255 printable ASCII characters');
      }
    };

    const limits = deps.traffic?.routeHooks(route.rateLimit) ?? { onRequest: [], preHandler: [] };

    app.route({
      method: route.method,
      url: route.url,
      bodyLimit: route.bodyLimit ?? DEFAULT_BODY_LIMIT,
      schema: {
        ...route.schema,
        summary: route.summary,
        operationId: route.operationId,
        tags: [route.tag],
        security: [{ bearer: [route.permission] }],
        ...(route.idempotent
          ? {
              headers: {
                type: 'object',
                required: ['idempotency-key'],
                properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 255 } },
              },
            }
          : {}),
      },
      config: { operationId: route.operationId, rateLimit: route.rateLimit, permission: route.permission },
      // Authentication and authorization run on onRequest, before the body is even read.
      // The client's rate limit counts right after authentication, before any further work.
      onRequest: [authenticate, ...limits.onRequest, authorize],
      // The concurrency cap holds its slot from after validation until the response ends.
      ...(limits.preHandler.length > 0 ? { preHandler: limits.preHandler } : {}),
      ...(route.idempotent ? { preValidation: [requireIdempotencyKey] } : {}),
      onResponse: [denialAuditor(deps.audit, route.permission, (err) => deps.onAuditFailure(err, 'denial'))],
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const principal = request.principal as Principal;
        const ctx: HandlerContext = {
          principal,
          body: request.body,
          params: request.params,
          query: request.query,
          request,
          reply,
        };
        if (!route.idempotent) {
          const result = await route.handler(ctx);
          // A streaming route (SSE) hijacked the reply and writes it itself.
          if (reply.sent) return undefined;
          for (const [k, v] of Object.entries(result.headers ?? {})) reply.header(k, v);
          return reply.code(result.status).send(result.body);
        }
        const key = request.headers['idempotency-key'] as string;
        // Keys are the caller's own: per client, and per end user when one signed in, so two users
        // of one app can never see (or block) each other's stored answers.
        const scope = principal.userId ? `${principal.clientId}/${principal.userId}` : principal.clientId;
        // The key stands for this request on this object: the path with its parameters filled in,
        // so the same key and body against another hold or transfer is a reuse, not a replay.
        const target = route.url.replace(/:([A-Za-z_]+)/g, (_m, name: string) => String((request.params as Record<string, unknown>)[name]));
        // Loaded before the transaction: a key read must not wait on the transaction it would sign in.
        const receiptKey = deps.receipts ? await deps.receipts.current() : undefined;
        const requestId = String(request.id);
        const stored = await deps.idempotency.run(
          { clientId: scope, key, hash: requestHash(route.method, target, request.body), requestId },
          async (tx) => {
            const result = await route.handler({ ...ctx, tx });
            if (!receiptKey || result.status < 200 || result.status >= 300) return result;
            // The receipt covers the exact bytes sent, so the answer is serialized here, once, and
            // kept with its signature: a replay sends both again.
            // The route's own response serializer (its schema): a JSON text.
            const payload = reply.code(result.status).type(JSON_TYPE).serialize(result.body) as string;
            const signed = receiptHeaders(receiptKey, { status: result.status, contentType: JSON_TYPE, requestId, body: payload });
            return { ...result, payload, headers: { 'x-request-id': requestId, ...signed } };
          },
        );
        if (stored.replayed) reply.header('Idempotent-Replayed', 'true');
        if (stored.status >= 400) {
          return reply.code(stored.status).type('application/problem+json').send(JSON.stringify(stored.body));
        }
        if (stored.payload !== undefined) {
          // The first answer again, byte for byte, with its receipt (which names the first request's id).
          for (const [k, v] of Object.entries(stored.headers ?? {})) reply.header(k, v);
          return reply.code(stored.status).type(JSON_TYPE).send(stored.payload);
        }
        return reply.code(stored.status).send(stored.body);
      },
    });
  }
}

export { sendProblem };
