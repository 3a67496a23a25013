// The live alerts, relayed: the browser's EventSource opens /console/api/alerts/stream, and the
// console opens GET /v1/alerts/stream with the session's token (the API's own stream, its caps,
// its standing checks and its end at the token's expiry). Bytes are passed through as they come;
// when the browser goes, the API's stream is closed too. Last-Event-ID goes along, so a
// reconnect gets the alerts it missed.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { applyRawSecurityHeaders } from '../gateway/security-headers.js';
import { apiHeaders, freshToken } from './api-proxy.js';
import type { OAuth } from './oauth.js';
import type { Session, SessionStore } from './sessions.js';

const STREAM_PATH = '/v1/alerts/stream';
const LAST_EVENT_ID = /^[A-Za-z0-9_-]{1,100}$/;

export async function relayAlertStream(
  deps: { app: FastifyInstance; oauth: OAuth; issuer: string; hsts: boolean; sessions: SessionStore },
  id: string,
  session: Session,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const token = await freshToken(deps.sessions, id, session, deps.oauth, request.ip);
  const headers: Record<string, string> = {
    accept: 'text/event-stream',
    ...(await apiHeaders(session, token, deps.issuer, 'GET', STREAM_PATH)),
  };
  const last = request.headers['last-event-id'];
  if (typeof last === 'string' && LAST_EVENT_ID.test(last)) headers['last-event-id'] = last;

  const upstream = await deps.app.inject({
    method: 'GET',
    url: STREAM_PATH,
    headers,
    remoteAddress: request.ip,
    payloadAsStream: true,
  });
  const body = upstream.stream();
  const upstreamRes = (upstream.raw as { res: ServerResponse }).res;

  reply.hijack();
  const res = reply.raw;
  applyRawSecurityHeaders(res, String(request.id), { hsts: deps.hsts });
  const type = upstream.headers['content-type'];
  res.writeHead(upstream.statusCode, {
    'content-type': typeof type === 'string' ? type : 'application/json',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  // The browser went: close the API's stream (it gives its place under the stream caps back).
  const close = () => upstreamRes.destroy();
  res.on('close', close);
  body.on('data', (chunk: Buffer) => res.write(chunk));
  body.on('end', () => res.end());
  body.on('error', () => res.end());
}
