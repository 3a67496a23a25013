// Test helpers for monitoring: an SSE reader over the test server's HTTPS agent, and a local
// webhook receiver (node:http on 127.0.0.1:0) that checks the Vaultgate-Signature header.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestServer } from '../e2e/harness.js';

export interface Stream {
  status: number;
  headers: IncomingHttpHeaders;
  alerts: Array<{ at: number; alert: any }>;
  raw: string;
  next(predicate: (alert: any) => boolean, timeoutMs?: number): Promise<{ at: number; alert: any }>;
  /** Resolves with performance.now() when the server ends the stream. */
  ended: Promise<number>;
  close(): void;
}

/** `headers` may carry its own `authorization` (a DPoP-bound token with its `dpop` proof). */
export function openStream(s: TestServer, token: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const waiters: Array<() => void> = [];
    const req = request(
      new URL('/v1/alerts/stream', s.url),
      { headers: { authorization: `Bearer ${token}`, ...headers, accept: 'text/event-stream' }, agent: s.http.agent },
      (res) => {
        const stream: Stream = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          alerts: [],
          raw: '',
          next(predicate, timeoutMs = 10_000) {
            return new Promise((ok, fail) => {
              const check = () => {
                const found = stream.alerts.find((a) => predicate(a.alert));
                if (found) {
                  clearTimeout(timer);
                  ok(found);
                  return true;
                }
                return false;
              };
              let timedOut = false;
              const timer = setTimeout(() => {
                timedOut = true;
                fail(new Error(`no matching alert within ${timeoutMs} ms; got ${stream.raw.slice(0, 500)}`));
              }, timeoutMs);
              // Re-armed until it matches: a frame that is not the one awaited (a heartbeat, another
              // alert) must not use up the wait.
              const retry = () => {
                if (!timedOut && !check()) waiters.push(retry);
              };
              retry();
            });
          },
          ended: new Promise<number>((done) => {
            res.once('end', () => done(performance.now()));
            res.once('close', () => done(performance.now()));
          }),
          close() {
            req.destroy();
          },
        };
        let buffer = '';
        let connected = false;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          stream.raw += chunk;
          buffer += chunk;
          let i: number;
          while ((i = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, i);
            buffer = buffer.slice(i + 2);
            const data = frame
              .split('\n')
              .filter((l) => l.startsWith('data: '))
              .map((l) => l.slice(6))
              .join('\n');
            if (frame.includes(': connected') && !connected) {
              connected = true;
              resolve(stream);
            }
            if (data) stream.alerts.push({ at: performance.now(), alert: JSON.parse(data) });
          }
          for (const w of waiters.splice(0)) w();
        });
        res.on('error', () => undefined);
        if (res.statusCode !== 200) {
          res.on('end', () => resolve(stream));
        }
      },
    );
    req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
    req.end();
  });
}

export interface Receiver {
  url: string;
  deliveries: Array<{ at: number; body: any; signatureValid: boolean; headers: IncomingHttpHeaders }>;
  next(predicate: (body: any) => boolean, timeoutMs?: number): Promise<{ at: number; body: any; signatureValid: boolean }>;
  close(): Promise<void>;
}

/** A receiver that verifies `t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>` on every delivery. */
export async function startReceiver(secret: string, options: { failFirst?: number } = {}): Promise<Receiver> {
  const deliveries: Receiver['deliveries'] = [];
  const waiters: Array<() => void> = [];
  let toFail = options.failFirst ?? 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (toFail > 0) {
        toFail--;
        res.writeHead(503).end();
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const header = String(req.headers['vaultgate-signature'] ?? '');
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
      let signatureValid = false;
      if (m) {
        const expected = createHmac('sha256', secret).update(`${m[1]}.${text}`).digest();
        const fresh = Math.abs(Date.now() / 1000 - Number(m[1])) < 300;
        signatureValid = fresh && timingSafeEqual(expected, Buffer.from(m[2] as string, 'hex'));
      }
      deliveries.push({ at: performance.now(), body: JSON.parse(text), signatureValid, headers: req.headers });
      res.writeHead(signatureValid ? 204 : 400).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/vaultgate`,
    deliveries,
    next(predicate, timeoutMs = 10_000) {
      return new Promise((ok, fail) => {
        const check = () => {
          const found = deliveries.find((d) => predicate(d.body));
          if (found) {
            clearTimeout(timer);
            ok(found);
          } else waiters.push(check);
        };
        const timer = setTimeout(() => fail(new Error(`no matching delivery within ${timeoutMs} ms`)), timeoutMs);
        check();
      });
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
