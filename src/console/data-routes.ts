// The page's data: the live alert stream and the relayed API calls, each with the session's token.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isAllowed, proxyApiCall, SessionEnded } from './api-proxy.js';
import { relayAlertStream } from './alert-stream.js';
import { csrfOk, problem, PUBLIC, sessionIdOf, type ConsoleContext } from './http.js';
import { OAuthError } from './oauth.js';
import { SessionGone } from './sessions.js';

export function registerDataRoutes(deps: ConsoleContext): void {
  const { app, issuer, sessions, oauth } = deps;
  app.get('/console/api/alerts/stream', PUBLIC, async (request, reply) => {
    // An open stream is not activity: the idle timeout still ends a console left open.
    const id = sessionIdOf(request);
    const s = await sessions.get(id, false);
    if (!s || !id) return problem(reply, 401, 'session_required', 'Sign in to the console');
    return relayAlertStream({ app, oauth, issuer, hsts: deps.hsts, sessions }, id, s, request, reply);
  });

  const relay = async (request: FastifyRequest, reply: FastifyReply) => {
    const apiUrl = request.url.slice('/console/api'.length);
    const path = apiUrl.split('?')[0]!;
    if (!isAllowed(request.method, path)) return problem(reply, 404, 'not_found', 'Not found');
    const id = sessionIdOf(request);
    const s = await sessions.get(id, true);
    if (!s || !id) return problem(reply, 401, 'session_required', 'Sign in to the console');
    if (request.method !== 'GET' && !csrfOk(request, s, issuer))
      return problem(reply, 403, 'csrf_failed', 'The request did not come from the console');
    try {
      return await proxyApiCall({ loopback: deps.loopback, oauth, issuer, sessions }, id, s, request, reply, apiUrl);
    } catch (err) {
      // The refresh was refused, or the API refused the token (grant revoked, user disabled): over.
      if (err instanceof OAuthError || err instanceof SessionEnded || err instanceof SessionGone) {
        await sessions.delete(id);
        return problem(reply, 401, 'session_ended', 'The session has ended; sign in again');
      }
      throw err;
    }
  };
  app.get('/console/api/v1/*', PUBLIC, relay);
  app.put('/console/api/v1/*', PUBLIC, relay);
  app.post('/console/api/v1/*', PUBLIC, relay);
  app.delete('/console/api/v1/*', PUBLIC, relay);
}
