// What the console's routes share: their route options, the problem answer, the session lookup
// and the CSRF check. The routes are public routes of the gateway (no bearer token: the session
// cookie stands in), so every global hook still runs on them: request id, IP rules, per-IP limits,
// security headers, the log line.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Users } from '../users/user-service.js';
import type { ConsoleAssets } from './assets.js';
import type { ConsoleClients } from './console-clients.js';
import { readCookie } from './cookies.js';
import type { Loopback } from './loopback.js';
import type { OAuth } from './oauth.js';
import { sameSecret, type Session, type SessionStore } from './sessions.js';
import { SESSION_COOKIE } from './settings.js';

export const PUBLIC = { config: { policy: 'public' as const }, schema: { hide: true } };

export interface ConsoleContext {
  app: FastifyInstance;
  issuer: string;
  hsts: boolean;
  assets: ConsoleAssets;
  sessions: SessionStore;
  clients: ConsoleClients;
  oauth: OAuth;
  loopback: Loopback;
  users: Pick<Users, 'authz'>;
  logger: { warn(obj: object, msg: string): void };
}

/**
 * An RFC 9457 problem in the platform's shape (src/errors.ts toProblem). The console's own codes
 * (session_required, session_ended, csrf_failed) are in the one error table (src/errors.ts,
 * docs/contract.md §6) with the API's, though only the console's server answers them.
 */
export const problem = (reply: FastifyReply, status: number, code: string, title: string) =>
  reply
    .code(status)
    .header('content-type', 'application/problem+json')
    .header('cache-control', 'no-store')
    .send({
      type: `https://vaultgate.dev/problems/${code.replaceAll('_', '-')}`,
      title,
      status,
      code,
      request_id: String(reply.request.id),
    });

export const sessionIdOf = (request: FastifyRequest) => readCookie(request.headers.cookie, SESSION_COOKIE);

/** Changes need the session's CSRF token in a header and our own Origin (a browser always sends it on a POST). */
export function csrfOk(request: FastifyRequest, session: Session, issuer: string): boolean {
  const token = request.headers['x-csrf-token'];
  return request.headers.origin === new URL(issuer).origin && typeof token === 'string' && sameSecret(token, session.csrf);
}
