// The live alert stream (Server-Sent Events). The gateway serializes JSON replies through
// schemas; a stream is not one, so the route hijacks the reply after authentication and
// authorization ran, and writes the raw response itself — with the same security headers every
// API answer carries. Heartbeat comments keep proxies from closing an idle stream.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Alert } from './alerts.js';

export interface StreamHub {
  open(request: FastifyRequest, reply: FastifyReply, visible: (alert: Alert) => boolean): void;
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
    open(request, reply, visible) {
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
      // Headers set earlier in the pipeline (rate-limit headers…) go out too.
      for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined && !(k in headers)) headers[k] = String(v);
      res.writeHead(200, headers);
      res.write(`retry: 5000\n: connected\n\n`);

      const unsubscribe = deps.subscribe((message) => {
        let alert: Alert;
        try {
          alert = JSON.parse(message) as Alert;
        } catch {
          return;
        }
        if (!visible(alert)) return;
        res.write(`id: ${alert.id}\nevent: alert\ndata: ${message}\n\n`);
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
          { req_id: request.id, method: request.method, route: request.routeOptions.url, status: 200, ms: Date.now() - started, tenant: p?.tenantId, client: p?.clientId, ip: request.ip, stream: true },
          'request',
        );
      };
      open.add(end);
      res.on('close', end);
      res.on('error', end);
    },
    closeAll() {
      for (const end of [...open]) end();
    },
    get size() {
      return open.size;
    },
  };
}
