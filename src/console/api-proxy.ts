// The console's data calls: the browser asks /console/api/v1/…, and the same request goes to the
// public API /v1/… with the session's access token and a DPoP proof. Only the routes the console
// uses are passed on (an allowlist by method and path); the API decides, with its usual scopes
// and tenant rules, what the user may see or change. The BFF adds the token and nothing else.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { dpopProof } from './dpop.js';
import type { Loopback } from './loopback.js';
import type { OAuth } from './oauth.js';
import type { Session, SessionStore } from './sessions.js';
import { REFRESH_MARGIN_MS } from './settings.js';

const ID = '[a-z]{2,4}_[0-9a-z]{26}';
const ALLOWED: ReadonlyArray<readonly [string, RegExp]> = [
  ['GET', /^\/v1\/alerts$/],
  ['GET', /^\/v1\/audit-events$/],
  ['GET', /^\/v1\/audit-events\/verification$/],
  ['GET', /^\/v1\/admin\/clients$/],
  ['GET', new RegExp(`^/v1/admin/clients/${ID}$`)],
  ['GET', /^\/v1\/admin\/access-review$/],
  ['GET', /^\/v1\/admin\/usage$/],
  ['GET', /^\/v1\/admin\/keys$/],
  ['GET', /^\/v1\/admin\/users$/],
  ['GET', /^\/v1\/webhook-endpoints$/],
  ['GET', new RegExp(`^/v1/webhook-endpoints/${ID}/deliveries$`)],
  ['GET', /^\/v1\/security\/scans$/],
  ['GET', /^\/v1\/security\/scans\/latest$/],
  // Changes (CSRF-checked upstream of here); the API's scopes decide who may make them.
  // A client's scopes (one-click removal of an unused scope): admin:clients.
  ['PUT', new RegExp(`^/v1/admin/clients/${ID}/scopes$`)],
  // A client's revocation (its tokens stop working at once): admin:clients.
  ['DELETE', new RegExp(`^/v1/admin/clients/${ID}$`)],
  ['POST', new RegExp(`^/v1/alerts/${ID}/acknowledge$`)],
  ['POST', /^\/v1\/admin\/keys\/rotate$/],
  ['POST', /^\/v1\/admin\/keys\/receipt\/rotate$/],
  ['PUT', new RegExp(`^/v1/admin/users/${ID}/role$`)],
  ['POST', new RegExp(`^/v1/admin/users/${ID}/(disable|reset-mfa)$`)],
  ['POST', new RegExp(`^/v1/webhook-endpoints/${ID}/deliveries/${ID}/retry$`)],
  ['POST', /^\/v1\/security\/scans$/],
];

export const isAllowed = (method: string, path: string) => ALLOWED.some(([m, re]) => m === method && re.test(path));

/** The API no longer accepts the session's token: the session is over. */
export class SessionEnded extends Error {}

/**
 * The session's access token, refreshed first when it is about to expire (one refresh per
 * session at a time, across nodes: see SessionStore.refreshTokens).
 */
export async function freshToken(sessions: SessionStore, id: string, session: Session, oauth: OAuth, ip: string): Promise<string> {
  if (session.tokens.expiresAt - Date.now() > REFRESH_MARGIN_MS) return session.tokens.accessToken;
  const tokens = await sessions.refreshTokens(id, session, (current) =>
    oauth.refresh({ clientId: session.clientId, tokens: current, dpop: session.dpop, ip }),
  );
  return tokens.accessToken;
}

/** Authorization and DPoP headers for one API call (htu: the issuer's origin and the path, RFC 9449 §4.3). */
export async function apiHeaders(session: Session, token: string, issuer: string, method: string, path: string) {
  return { authorization: `DPoP ${token}`, dpop: await dpopProof(session.dpop, method, `${issuer}${path}`, token) };
}

export async function proxyApiCall(
  deps: { loopback: Loopback; oauth: OAuth; issuer: string; sessions: SessionStore },
  id: string,
  session: Session,
  request: FastifyRequest,
  reply: FastifyReply,
  apiUrl: string,
): Promise<FastifyReply> {
  const method = request.method as 'GET' | 'PUT' | 'POST' | 'DELETE';
  const path = apiUrl.split('?')[0]!;
  const token = await freshToken(deps.sessions, id, session, deps.oauth, request.ip);
  const headers: Record<string, string> = { accept: 'application/json', ...(await apiHeaders(session, token, deps.issuer, method, path)) };
  let body: string | undefined;
  if (method === 'PUT' || method === 'POST') {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(request.body ?? {});
  }
  const res = await deps.loopback({ method, url: apiUrl, headers, ip: request.ip, ...(body !== undefined ? { body } : {}) });
  // 401: the token no longer stands (grant or client revoked, user disabled or changed role).
  if (res.status === 401) throw new SessionEnded();
  const type = typeof res.headers['content-type'] === 'string' ? res.headers['content-type'] : 'application/json';
  return reply.code(res.status).header('content-type', type).header('cache-control', 'no-store').send(res.text);
}
