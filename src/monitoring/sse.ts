// The live alert stream (Server-Sent Events). The gateway serializes JSON replies through
// schemas; a stream is not one, so the route hijacks the reply after authentication and
// authorization ran, and writes the raw response itself — with the same security headers every
// API answer carries. Heartbeat comments keep proxies from closing an idle stream.
// A client that reconnects with `Last-Event-ID` first gets the alerts it missed (from the
// database), then the live ones: it subscribes before reading the backlog and drops any alert
// sent twice, so nothing raised during the reconnect falls between the two.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { rateLimitHeaders } from '../gateway/rate-limit/headers.js';
import type { Alert } from './alerts.js';

export interface StreamOptions {
  /** Whether this principal may see an alert (tenant isolation). */
  visible(alert: Alert): boolean;
  /** The visible alerts raised after the client's Last-Event-ID, oldest first (none on a first connect). */
  missed(): Promise<Alert[]>;
}

export interface StreamHub {
  open(request: FastifyRequest, reply: FastifyReply, options: StreamOptions): Promise<void>;
  /** Ends every open stream (shutdown: lets the server drain instead of waiting on them). */
  closeAll(): void;
  readonly size: number;
}

export function createStreamHub(deps: {
  subscribe(listener: (message: string) => void): () => void;
  heartbeatMs: number;
  hsts: boolean;
}): StreamHub {
  const open = new Set<() => void>();
  return {
    async open(request, reply, { visible, missed }) {
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

      const write = (alert: Alert, message: string) => res.write(`id: ${alert.id}\nevent: alert\ndata: ${message}\n\n`);
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
        else write(alert, message);
      });
      const heartbeat = setInterval(() => res.write(': ping\n\n'), deps.heartbeatMs);
      heartbeat.unref();
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(end);
        if (!res.writableEnded) res.end();
        // A hijacked reply skips the gateway's onResponse: write its one log line here.
        const p = request.principal;
        request.log.info(
          { req_id: request.id, method: request.method, route: request.routeOptions.url, status: 200, ms: Date.now() - started, tenant: p?.tenantId, client: p?.clientId, ip: request.clientIp, stream: true },
          'request',
        );
      };
      open.add(end);
      res.on('close', end);
      res.on('error', end);

      const backlog = new Set<string>();
      try {
        for (const alert of await missed()) {
          if (ended) return;
          backlog.add(alert.id);
          write(alert, JSON.stringify(alert));
        }
      } catch (err) {
        // The live stream still works; the client can page through GET /v1/alerts for the gap.
        request.log.warn({ event: 'alert.backlog_failed', error: (err as Error)?.name }, 'alert backlog unavailable');
        if (!ended) res.write(': backlog unavailable\n\n');
      }
      // An alert raised while the backlog was read may be in both: send it once.
      for (const [alert, message] of held) if (!ended && !backlog.has(alert.id)) write(alert, message);
      held = undefined;
    },
    closeAll() {
      for (const end of [...open]) end();
    },
    get size() {
      return open.size;
    },
  };
}
