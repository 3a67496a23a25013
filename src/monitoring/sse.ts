// The live alert stream (Server-Sent Events). The gateway serializes JSON replies through
// schemas; a stream is not one, so the route hijacks the reply after authentication and
// authorization ran, and writes the raw response itself — with the same security headers every
// API answer carries. Heartbeat comments keep proxies from closing an idle stream.
// A client that reconnects with `Last-Event-ID` first gets the alerts it missed (from the
// database), then the live ones: it subscribes before reading the backlog and drops any alert
// sent twice, so nothing raised during the reconnect falls between the two.
//
// A stream outlives the request that opened it, so it is held to what a request is held to, for
// as long as it lasts: its token's standing is checked before every event and at least once a
// second (revocation of the token, its grant or its client, a scope or role change, expiry — read
// from the database, so it holds across nodes and for changes the CLI makes), and it ends when the
// token no longer stands. Streams are counted apart from requests (they would hold the shedder's
// in-flight slots for ever): at most `perClient` per client and `max` per node.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { rateLimitHeaders } from '../gateway/rate-limit/headers.js';
import type { Alert } from './alerts.js';

export interface StreamOptions {
  /** Whether this principal may see an alert (tenant isolation). */
  visible(alert: Alert): boolean;
  /** The visible alerts raised after the client's Last-Event-ID, oldest first (none on a first connect). */
  missed(): Promise<Alert[]>;
  /** The stream's owner, for the per-client cap. */
  clientId: string;
  /** Streams of one token share one standing check per tick. */
  tokenHash: string;
  /** Whether the token still stands and still carries the stream's permission. */
  stands(): Promise<boolean>;
}

export interface StreamHub {
  /** Throws 429 too_many_streams when the client (or the node) has no stream left; call before open(). */
  admit(clientId: string): void;
  open(request: FastifyRequest, reply: FastifyReply, options: StreamOptions): Promise<void>;
  /** Ends every open stream (shutdown: lets the server drain instead of waiting on them). */
  closeAll(): void;
  readonly size: number;
}

export function createStreamHub(deps: {
  subscribe(listener: (message: string) => void): () => void;
  heartbeatMs: number;
  hsts: boolean;
  limits: { perClient: number; max: number };
  /** How often every stream's standing is checked (1 s: "within a second" of a revocation). */
  checkMs?: number;
}): StreamHub {
  const open = new Set<OpenStream>();
  const perClient = new Map<string, number>();
  // One standing check per token at a time, shared by the streams (and events) that ask for it.
  const checking = new Map<string, Promise<boolean>>();

  interface OpenStream {
    options: StreamOptions;
    end(reason?: 'revoked'): void;
    heartbeat(): void;
  }

  function stands(options: StreamOptions): Promise<boolean> {
    let pending = checking.get(options.tokenHash);
    if (!pending) {
      pending = options.stands().catch(() => false).finally(() => checking.delete(options.tokenHash));
      checking.set(options.tokenHash, pending);
    }
    return pending;
  }

  let lastHeartbeat = Date.now();
  const tick = setInterval(() => {
    const beat = Date.now() - lastHeartbeat >= deps.heartbeatMs;
    if (beat) lastHeartbeat = Date.now();
    for (const stream of open) {
      void stands(stream.options).then((ok) => {
        if (!ok) stream.end('revoked');
        else if (beat) stream.heartbeat();
      });
    }
  }, deps.checkMs ?? 1_000);
  tick.unref();

  const count = (clientId: string) => perClient.get(clientId) ?? 0;

  return {
    admit(clientId) {
      if (open.size >= deps.limits.max || count(clientId) >= deps.limits.perClient) {
        throw new AppError('too_many_streams', `At most ${deps.limits.perClient} open alert streams per client`, { 'Retry-After': '5' });
      }
    },

    async open(request, reply, options) {
      const { visible, missed, clientId } = options;
      const started = Date.now();
      reply.hijack();
      const res = reply.raw;
      const headers: Record<string, string> = {
        'x-request-id': String(request.id),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'x-frame-options': 'DENY',
        'cross-origin-resource-policy': 'same-origin',
        'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        'x-accel-buffering': 'no', // nginx: do not buffer the stream
        ...(deps.hsts ? { 'strict-transport-security': 'max-age=63072000; includeSubDomains' } : {}),
      };
      // Headers set earlier in the pipeline go out too, and the rate-limit headers, which a
      // hijacked reply would otherwise miss (they are added when a reply is sent).
      for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined && !(k in headers)) headers[k] = String(v);
      if (request.rateLimits) Object.assign(headers, rateLimitHeaders(request.rateLimits));
      res.writeHead(200, headers);
      res.write(`retry: 5000\n: connected\n\n`);
      // Open: from here the stream counts as a stream, not as a request in flight.
      request.admission?.release();

      const write = (alert: Alert, message: string) => res.write(`id: ${alert.id}\nevent: alert\ndata: ${message}\n\n`);
      // Each event waits for a fresh standing check; the queue keeps them in order meanwhile.
      let queue = Promise.resolve();
      const send = (alert: Alert, message: string) => {
        queue = queue.then(async () => {
          if (ended) return;
          if (!(await stands(options))) return stream.end('revoked');
          if (!ended) write(alert, message);
        });
      };
      // Live alerts wait in `held` until the backlog is out, so the stream stays in id order.
      let held: Array<[Alert, string]> | undefined = [];
      const unsubscribe = deps.subscribe((message) => {
        let alert: Alert;
        try {
          alert = JSON.parse(message) as Alert;
        } catch {
          return;
        }
        if (!visible(alert)) return;
        if (held) held.push([alert, message]);
        else send(alert, message);
      });
      let ended = false;
      const stream: OpenStream = {
        options,
        heartbeat: () => {
          if (!ended) res.write(': ping\n\n');
        },
        end(reason) {
          if (ended) return;
          ended = true;
          unsubscribe();
          open.delete(stream);
          const left = count(clientId) - 1;
          if (left <= 0) perClient.delete(clientId);
          else perClient.set(clientId, left);
          // Said once, so a client knows not to reconnect with the same token.
          if (reason === 'revoked' && !res.writableEnded) res.write('event: closed\ndata: {"reason":"token_no_longer_valid"}\n\n');
          if (!res.writableEnded) res.end();
          // A hijacked reply skips the gateway's onResponse: write its one log line here.
          const p = request.principal;
          request.log.info(
            { req_id: request.id, method: request.method, route: request.routeOptions.url, status: 200, ms: Date.now() - started, tenant: p?.tenantId, client: p?.clientId, ip: request.clientIp, stream: true, ...(reason ? { ended: reason } : {}) },
            'request',
          );
        },
      };
      open.add(stream);
      perClient.set(clientId, count(clientId) + 1);
      res.on('close', () => stream.end());
      res.on('error', () => stream.end());

      const backlog = new Set<string>();
      try {
        for (const alert of await missed()) {
          if (ended) return;
          backlog.add(alert.id);
          send(alert, JSON.stringify(alert));
        }
      } catch (err) {
        // The live stream still works; the client can page through GET /v1/alerts for the gap.
        request.log.warn({ event: 'alert.backlog_failed', error: (err as Error)?.name }, 'alert backlog unavailable');
        if (!ended) res.write(': backlog unavailable\n\n');
      }
      // An alert raised while the backlog was read may be in both: send it once.
      for (const [alert, message] of held) if (!ended && !backlog.has(alert.id)) send(alert, message);
      held = undefined;
    },
    closeAll() {
      for (const stream of [...open]) stream.end();
    },
    get size() {
      return open.size;
    },
  };
}
