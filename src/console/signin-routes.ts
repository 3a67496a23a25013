// Sign-in and sign-out: PAR with PKCE for the tenant's console client, the platform's own sign-in
// pages, the callback that turns the code into a session, the session's facts for the page, and
// the sign-out that ends the grant.
import type { FastifyReply } from 'fastify';
import { clearCookie, readCookie, setCookie } from './cookies.js';
import { newDpopKey } from './dpop.js';
import { csrfOk, problem, PUBLIC, sessionIdOf, type ConsoleContext } from './http.js';
import { OAuthError, pkcePair, type OAuth } from './oauth.js';
import { newSecret, sameSecret } from './sessions.js';
import { ABSOLUTE_TIMEOUT_MS, CONSOLE_SCOPES, LOGIN_COOKIE, LOGIN_TIMEOUT_MS, SESSION_COOKIE } from './settings.js';

const TENANT = /^[a-z0-9][a-z0-9-]{0,62}$/;
const isConsoleScope = (s: string) => (CONSOLE_SCOPES as readonly string[]).includes(s);

export function registerSignInRoutes(deps: ConsoleContext): void {
  const { app, issuer, sessions, clients, oauth } = deps;
  const back = (reply: FastifyReply, query: Record<string, string>) =>
    reply.redirect(`/console/?${new URLSearchParams(query).toString()}`, 303);

  // Sign-in: PAR with PKCE for the tenant's console client, then the authorization server's pages.
  app.get<{ Querystring: { tenant?: string } }>('/console/login', PUBLIC, async (request, reply) => {
    const tenant = typeof request.query.tenant === 'string' ? request.query.tenant.trim().toLowerCase() : '';
    if (!TENANT.test(tenant)) return back(reply, { error: 'unknown_tenant' });
    const client = await clients.forTenant(tenant);
    if (!client) return back(reply, { error: 'unknown_tenant', tenant });
    const { verifier, challenge } = pkcePair();
    const nonce = newSecret();
    const state = await sessions.startLogin({ tenant, ...client, verifier, nonce, dpop: await newDpopKey() });
    try {
      const url = await oauth.authorizationUrl({ clientId: client.clientId, state, nonce, challenge, ip: request.ip });
      return reply.header('set-cookie', setCookie(LOGIN_COOKIE, state, LOGIN_TIMEOUT_MS)).redirect(url, 303);
    } catch (err) {
      // The pushed request was refused (a rate limit, say): said on the sign-in page, not as a 500.
      if (!(err instanceof OAuthError)) throw err;
      await sessions.takeLogin(state);
      deps.logger.warn({ event: 'console.signin_failed', error: err.code }, 'console sign-in could not start');
      return back(reply, { error: 'signin_failed', tenant });
    }
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/console/callback', PUBLIC, async (request, reply) => {
    const q = request.query;
    const state = readCookie(request.headers.cookie, LOGIN_COOKIE);
    reply.header('set-cookie', clearCookie(LOGIN_COOKIE));
    // The state must be the one this browser started with (no code injected from another sign-in).
    if (!state || typeof q.state !== 'string' || !sameSecret(q.state, state)) return back(reply, { error: 'expired' });
    const login = await sessions.takeLogin(state);
    if (!login) return back(reply, { error: 'expired' });
    if (q.iss !== issuer) return back(reply, { error: 'signin_failed' }); // RFC 9207 §2.4
    if (q.error === 'access_denied') return back(reply, { error: 'cancelled', tenant: login.tenant });
    if (typeof q.code !== 'string') return back(reply, { error: 'signin_failed', tenant: login.tenant });

    let result: Awaited<ReturnType<OAuth['exchange']>>;
    try {
      result = await oauth.exchange({
        clientId: login.clientId,
        code: q.code,
        verifier: login.verifier,
        nonce: login.nonce,
        dpop: login.dpop,
        ip: request.ip,
        startedAt: login.createdAt,
      });
    } catch (err) {
      deps.logger.warn({ event: 'console.signin_failed', error: err instanceof OAuthError ? err.code : 'error' }, 'console sign-in failed');
      return back(reply, { error: 'signin_failed', tenant: login.tenant });
    }
    const user = await deps.users.authz(result.userId);
    const consoleScopes = result.tokens.scopes.filter(isConsoleScope);
    // A customer (or a role the console has nothing for) does not get in; the grant is ended at once.
    if (!user || user.role === 'customer' || consoleScopes.length === 0) {
      await oauth.revoke({ clientId: login.clientId, tokens: result.tokens, ip: request.ip }).catch(() => undefined);
      return reply.redirect('/console/refused', 303);
    }
    const { id } = await sessions.create({
      tenant: login.tenant,
      tenantId: login.tenantId,
      clientId: login.clientId,
      userId: result.userId,
      role: user.role,
      dpop: login.dpop,
      tokens: result.tokens,
    });
    return reply
      .header('set-cookie', [clearCookie(LOGIN_COOKIE), setCookie(SESSION_COOKIE, id, ABSOLUTE_TIMEOUT_MS)])
      .redirect('/console/', 303);
  });

  app.get('/console/api/session', PUBLIC, async (request, reply) => {
    const s = await sessions.get(sessionIdOf(request), true);
    if (!s) return problem(reply, 401, 'session_required', 'Sign in to the console');
    return reply.header('cache-control', 'no-store').send({
      tenant: s.tenant,
      user_id: s.userId,
      // The console's own client of the tenant (the clients page does not offer to revoke it).
      client_id: s.clientId,
      role: s.role,
      scopes: s.tokens.scopes.filter(isConsoleScope),
      csrf: s.csrf,
    });
  });

  // Sign-out: the grant ends at the authorization server (refresh token revoked), then the session here.
  app.post('/console/api/logout', PUBLIC, async (request, reply) => {
    const id = sessionIdOf(request);
    const s = await sessions.get(id, false);
    if (!s || !id) return problem(reply, 401, 'session_required', 'Sign in to the console');
    if (!csrfOk(request, s, issuer)) return problem(reply, 403, 'csrf_failed', 'The request did not come from the console');
    await sessions.delete(id);
    // Should the revocation fail, the grant is unreachable all the same (its tokens were only
    // here) and lapses with them; said in the log for the operator.
    await oauth.revoke({ clientId: s.clientId, tokens: s.tokens, ip: request.ip }).catch((err: unknown) => {
      deps.logger.warn(
        { event: 'console.revoke_failed', error: err instanceof OAuthError ? err.code : 'error' },
        'console sign-out: grant not revoked',
      );
    });
    return reply.header('set-cookie', clearCookie(SESSION_COOKIE)).header('cache-control', 'no-store').code(204).send();
  });
}
