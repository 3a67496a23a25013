// The gateway: every API route is registered here from the route table, and every request walks
// the same steps before its handler: request id → security headers → authenticate (bearer) →
// authorize (the route's permission) → strict validation → handler → serialization through the
// declared response schema → one redacted log line.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { Principal } from '../lib/principal.js';
import type { Sql } from '../storage/types.js';
import { IDEMPOTENCY_KEY_PATTERN, requestHash, type Idempotency } from './idempotency.js';
import { sendProblem } from './problem-handlers.js';
import { assertPolicies, type ApiRoute, type HandlerContext } from './route-table.js';

export interface GatewayDeps {
  authenticate(authorization: string | undefined): Promise<Principal>;
  idempotency: Idempotency;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
  interface FastifyContextConfig {
    /** 'public' for the few routes without a permission; API routes carry the rest. */
    policy?: 'public';
    permission?: string;
    audit?: string;
    rateLimit?: string;
  }
}

const DEFAULT_BODY_LIMIT = 16 * 1024;

function insufficientScope(scope: string): AppError {
  return new AppError('insufficient_scope', `This route needs the permission ${scope}`, {
    'WWW-Authenticate': `Bearer realm="vaultgate", error="insufficient_scope", scope="${scope}"`,
  });
}

/** Context handed to idempotent handlers: their database work runs in the idempotency transaction. */
export interface MoneyHandlerContext extends HandlerContext {
  tx: Sql;
}

export function registerApiRoutes(app: FastifyInstance, routes: readonly ApiRoute[], deps: GatewayDeps): void {
  assertPolicies(routes);
  if (!app.hasRequestDecorator('principal')) app.decorateRequest('principal', undefined);

  for (const route of routes) {
    const authenticate = async (request: FastifyRequest) => {
      request.principal = await deps.authenticate(request.headers.authorization);
    };
    const authorize = async (request: FastifyRequest) => {
      if (!request.principal?.scopes.has(route.permission)) throw insufficientScope(route.permission);
    };
    const requireIdempotencyKey = async (request: FastifyRequest) => {
      const key = request.headers['idempotency-key'];
      if (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
        throw new AppError('validation_failed', 'The Idempotency-Key header is required: 1–255 printable ASCII characters');
      }
    };

    app.route({
      method: route.method,
      url: route.url,
      bodyLimit: route.bodyLimit ?? DEFAULT_BODY_LIMIT,
      schema: {
        ...route.schema,
        summary: route.summary,
        tags: [route.tag],
        security: [{ bearer: [route.permission] }],
        ...(route.idempotent
          ? { headers: { type: 'object', required: ['idempotency-key'], properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 255 } } } }
          : {}),
      } as object,
      config: { audit: route.audit, rateLimit: route.rateLimit, permission: route.permission },
      // Authentication and authorization run on onRequest, before the body is even read.
      onRequest: [authenticate, authorize],
      ...(route.idempotent ? { preValidation: [requireIdempotencyKey] } : {}),
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const principal = request.principal as Principal;
        const ctx: HandlerContext = {
          principal, body: request.body, params: request.params, query: request.query, request, reply,
        };
        if (!route.idempotent) {
          const result = await route.handler(ctx);
          for (const [k, v] of Object.entries(result.headers ?? {})) reply.header(k, v);
          return reply.code(result.status).send(result.body);
        }
        const key = request.headers['idempotency-key'] as string;
        const stored = await deps.idempotency.run(
          { clientId: principal.clientId, key, hash: requestHash(route.method, route.url, request.body), requestId: String(request.id) },
          (tx) => route.handler({ ...ctx, tx } as MoneyHandlerContext),
        );
        if (stored.replayed) reply.header('Idempotent-Replayed', 'true');
        if (stored.status >= 400) {
          return reply.code(stored.status).type('application/problem+json').send(JSON.stringify(stored.body));
        }
        return reply.code(stored.status).send(stored.body);
      },
    });
  }
}

export { sendProblem };
