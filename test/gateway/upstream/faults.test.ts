// Upstreams that misbehave, and callers that do, end to end through the real platform (real
// tokens, HTTPS, the whole pipeline) against real servers on 127.0.0.1: down, slow, stopping or
// resetting before or after the headers, a huge body, garbage instead of HTTP, a masked 5xx; a
// caller whose body stalls, outgrows the route's limit while streaming or is abandoned, and one
// that leaves mid-answer; smuggling attempts on raw sockets. Every problem is asserted by status,
// code and request id. A soak of a few thousand failing requests shows that RSS, descriptors and
// sockets return to where they were.
import { readdirSync, readFileSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import http2 from 'node:http2';
import { Agent, request, type RequestOptions } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../e2e/harness.js';
import { describeEngines, type Engine } from '../../support/databases.js';

const MIB = 1024 * 1024;
const HUGE = 50 * MIB;

/** What a caller observed: status and headers, the bytes, and whether the message arrived whole. */
interface Outcome {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  bytes: number;
  /** The whole message arrived (its Content-Length, or the last chunk). */
  complete: boolean;
  /** The error the client saw, when the connection was cut (before or during the response). */
  error: string | undefined;
}

interface CallOptions {
  method?: string;
  token?: string;
  headers?: Record<string, string>;
  /** Writes the body (and may never end it); default: no body. */
  write?: (req: ClientRequest) => void;
  /** Count the body only (a huge answer is not kept). */
  discard?: boolean;
  onData?: (chunk: Buffer) => void;
}

const errorCode = (err: unknown) => {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : (err as Error).message;
};

function caller(baseUrl: string, agent: Agent) {
  return (target: string, options: CallOptions = {}): Promise<Outcome> =>
    new Promise((resolve) => {
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      const init: RequestOptions = { method: options.method ?? 'GET', headers, agent };
      let answered = false;
      const req = request(new URL(target, baseUrl), init, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        let bytes = 0;
        let error: string | undefined;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          options.onData?.(c);
          if (!options.discard) chunks.push(c);
        });
        res.on('error', (err) => (error = errorCode(err)));
        res.on('close', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), bytes, complete: res.complete, error });
          // A request whose body the caller never finished is done with now.
          req.destroy();
        });
      });
      req.on('error', (err) => {
        if (!answered) resolve({ status: 0, headers: {}, body: Buffer.alloc(0), bytes: 0, complete: false, error: errorCode(err) });
      });
      if (options.write) options.write(req);
      else req.end();
    });
}

/** The gateway's own problem+json: exact status and code, and the request id of the response. */
function expectProblem(res: Outcome, status: number, code: string): void {
  const body = JSON.parse(res.body.toString('utf8')) as { status?: number; code?: string; request_id?: string };
  expect({ status: res.status, type: res.headers['content-type'], bodyStatus: body.status, code: body.code }).toEqual({
    status,
    type: expect.stringMatching(/^application\/problem\+json(;|$)/),
    bodyStatus: status,
    code,
  });
  expect(typeof res.headers['x-request-id']).toBe('string');
  expect(body.request_id).toBe(res.headers['x-request-id']);
}

async function listen(server: Server | NetServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function closedPort(): Promise<number> {
  const probe = createNetServer();
  const port = await listen(probe);
  await new Promise((r) => probe.close(r));
  return port;
}

/** Answers every request with bytes that are not HTTP, then closes. */
function garbageServer(): NetServer {
  return createNetServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end('garbage \x00\x01 not a status line\r\n\r\n'));
  });
}

async function closeAll(...servers: Array<Server | NetServer | undefined>): Promise<void> {
  for (const server of servers) {
    if (!server) continue;
    if ('closeAllConnections' in server) server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The GC, exposed at run time (vitest's workers do not start with --expose-gc). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return () => {
    gc();
    gc();
  };
}

const LIFTED_LIMITS = [
  'rate_limits:',
  '  ip: { limit: 1000000, window_seconds: 60 }',
  '  tiers:',
  '    default:',
  '      read: { limit: 1000000, window_seconds: 60 }',
  '      write: { limit: 1000000, window_seconds: 60 }',
];

interface Intake {
  url: string;
  bytes: number;
  /** The upstream read the whole request (its last chunk or its length). */
  complete: boolean | undefined;
}

describeEngines('gateway faults: upstreams and callers that misbehave', (engine: Engine) => {
  let upstream: Server;
  let garbage: NetServer;
  let dir: string;
  let s: TestServer;
  let agent: Agent;
  let call: ReturnType<typeof caller>;
  let ca: Buffer;
  let reader: Awaited<ReturnType<TestServer['newClient']>>;
  let writer: Awaited<ReturnType<TestServer['newClient']>>;
  let intakes: Intake[] = [];
  let seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  /** Resolved by the test once the caller has the first bytes of the huge answer. */
  let callerHasFirstBytes: () => void = () => undefined;
  let hugeOrder: string[] = [];
  let endless: Array<{ url: string; closed: boolean }> = [];

  beforeAll(async () => {
    const chunk = Buffer.alloc(64 * 1024, 'v');
    upstream = createServer((req: IncomingMessage, res) => {
      const url = req.url ?? '/';
      seen.push({ url, headers: req.headers });
      if (url.startsWith('/slow/trickle')) return void res.writeHead(200, { 'content-type': 'text/plain' }).write('first part,');
      if (url.startsWith('/slow')) return; // never answers
      if (url.startsWith('/reset-before')) return void req.socket.destroy();
      if (url.startsWith('/reset-mid/')) {
        // Headers and a first part of the body go out, then the connection is cut.
        if (url.endsWith('/length')) res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(MIB) });
        else res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(chunk, () => req.socket.destroy());
        return;
      }
      if (url.startsWith('/endless/')) {
        // An answer that goes on while anyone reads it; the test reads whether it was let go.
        const record = { url, closed: false };
        endless.push(record);
        if (url.endsWith('/length'))
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(1024 * MIB) });
        else res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        res.once('close', () => (record.closed = true));
        pump();
        return;
      }
      if (url.startsWith('/huge')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(HUGE) });
        let sent = 0;
        let released = false;
        const wait = new Promise<void>((resolve) => {
          callerHasFirstBytes = () => {
            hugeOrder.push('caller has first bytes');
            resolve();
          };
          // Never a hang if the gateway buffered everything: the order below then shows it.
          setTimeout(resolve, 10_000).unref();
        });
        const pump = () => {
          while (sent < HUGE) {
            // The first MiB, then nothing more until the caller has seen bytes: an answer that
            // reaches the caller only once complete cannot pass this point in order.
            if (sent >= MIB && !released) {
              void wait.then(() => {
                released = true;
                pump();
              });
              return;
            }
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          hugeOrder.push('upstream finished');
          res.end();
        };
        pump();
        return;
      }
      if (url.startsWith('/boom')) {
        res.writeHead(500, { 'content-type': 'text/html', 'content-length': String(256 * 1024 + 28) });
        res.write('Traceback: password=hunter2\n');
        res.end(Buffer.alloc(256 * 1024, 'x'));
        return;
      }
      if (/^\/(intake|big|leave)\//.test(url)) {
        const record: Intake = { url, bytes: 0, complete: undefined };
        intakes.push(record);
        req.on('data', (c: Buffer) => (record.bytes += c.length));
        req.on('end', () => res.end(JSON.stringify({ bytes: record.bytes })));
        req.on('close', () => (record.complete = req.complete));
        return;
      }
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ ok: true }));
      });
    });
    const port = await listen(upstream);
    garbage = garbageServer();
    const garbagePort = await listen(garbage);
    const gonePort = await closedPort();

    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-faults-'));
    const config = path.join(dir, 'vaultgate.yaml');
    const origin = `http://127.0.0.1:${port}`;
    writeFileSync(
      config,
      [
        ...LIFTED_LIMITS,
        'gateway:',
        '  upstreams:',
        `    app: { url: "${origin}", timeout_ms: 30000, retries: 0 }`,
        `    slow: { url: "${origin}", timeout_ms: 300, connect_timeout_ms: 300, retries: 0 }`,
        `    gone: { url: "http://127.0.0.1:${gonePort}", connect_timeout_ms: 500, retries: 0 }`,
        `    garbage: { url: "http://127.0.0.1:${garbagePort}", retries: 0 }`,
        // Two failures in a row would open these breakers: the caller's faults must not count. One
        // upstream per kind of caller fault, so that each test shows its own.
        ...['intake', 'big', 'leave'].map(
          (name) =>
            `    ${name}: { url: "${origin}", timeout_ms: 500, connect_timeout_ms: 500, retries: 0, circuit_breaker: { failures: 2, reset_seconds: 60 } }`,
        ),
        '  routes:',
        '    - { prefix: /app/, upstream: app, strip_prefix: true, permission: "svc:read", write_permission: "svc:write" }',
        '    - { prefix: /slow/, upstream: slow, strip_prefix: false, permission: "svc:read" }',
        '    - { prefix: /gone/, upstream: gone, strip_prefix: true, permission: "svc:read" }',
        '    - { prefix: /garbage/, upstream: garbage, strip_prefix: true, permission: "svc:read" }',
        ...['intake', 'big', 'leave'].map(
          (name) =>
            `    - { prefix: /${name}/, upstream: ${name}, strip_prefix: false, permission: "svc:read", write_permission: "svc:write", body_limit_bytes: 1024 }`,
        ),
      ].join('\n'),
    );
    s = await startTestServer(engine, { VAULTGATE_CONFIG: config });
    ca = readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem'));
    agent = new Agent({ keepAlive: true, ca });
    call = caller(s.url, agent);
    reader = await s.newClient('acme', ['svc:read']);
    writer = await s.newClient('acme', ['svc:read', 'svc:write']);
  });
  afterAll(async () => {
    agent?.destroy();
    await s?.close();
    await closeAll(upstream, garbage);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an upstream that is down: 502 upstream_unreachable', async () => {
    expectProblem(await call('/gone/v1/x', { token: reader.token }), 502, 'upstream_unreachable');
    // Answered while the caller is still sending: the rest of its body is never read, so its
    // connection goes with the answer instead of waiting on it.
    const midBody = await call('/gone/v1/x', { method: 'POST', token: reader.token, write: (req) => req.write('{"name":') });
    expectProblem(midBody, 502, 'upstream_unreachable');
    expect(midBody.headers.connection).toBe('close');
  });

  it('an upstream that sends no headers within timeout_ms: 504 upstream_timeout', async () => {
    expectProblem(await call('/slow/v1/x', { token: reader.token }), 504, 'upstream_timeout');
  });

  it('an upstream that stops mid-body past timeout_ms: the caller sees its stream cut', async () => {
    const res = await call('/slow/trickle', { token: reader.token });
    expect({ status: res.status, body: res.body.toString('utf8'), complete: res.complete, error: res.error }).toEqual({
      status: 200,
      body: 'first part,',
      complete: false,
      error: 'ECONNRESET',
    });
  });

  it('an upstream that resets the connection before its headers: 502 upstream_unreachable', async () => {
    expectProblem(await call('/app/reset-before', { token: reader.token }), 502, 'upstream_unreachable');
  });

  it('an upstream that resets mid-body: the caller sees its stream cut, never a complete-looking answer', async () => {
    for (const framing of ['length', 'chunked']) {
      const res = await call(`/app/reset-mid/${framing}`, { token: reader.token, discard: true });
      // The headers were already on their way (streamed), so the status is the upstream's; what
      // matters is that the caller can tell the body is not whole.
      expect({ framing, status: res.status, complete: res.complete, error: res.error }).toEqual({
        framing,
        status: 200,
        complete: false,
        error: 'ECONNRESET',
      });
      expect(res.bytes).toBeLessThan(MIB);
    }
    // The gateway is fine afterwards.
    expect((await call('/app/ok', { token: reader.token })).status).toBe(200);
  });

  it('a caller that goes away mid-answer: the upstream answer is let go at once, not held until a timeout', async () => {
    endless = [];
    for (const framing of ['length', 'chunked']) {
      const url = `/app/endless/${framing}`;
      await new Promise<void>((resolve, reject) => {
        const req = request(new URL(url, s.url), { agent: false, ca, headers: { authorization: `Bearer ${reader.token}` } }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
        req.end();
      });
      // The upstream (timeout_ms 30 s) is told at once: its connection is not held for nobody.
      const record = await until(
        () => endless.find((r) => r.url === `/endless/${framing}` && r.closed),
        `the upstream to let go (${framing})`,
      );
      expect(record.closed).toBe(true);
    }
  });

  // @control OWASP-API10
  it('a huge answer (50 MiB) is streamed to the caller while the gateway memory stays bounded', async () => {
    const transfer = async () => {
      hugeOrder = [];
      let first = true;
      let peak = process.memoryUsage.rss();
      const res = await call('/app/huge', {
        token: reader.token,
        discard: true,
        onData: () => {
          if (first) {
            first = false;
            callerHasFirstBytes();
          }
          peak = Math.max(peak, process.memoryUsage.rss());
        },
      });
      expect({ status: res.status, bytes: res.bytes, complete: res.complete }).toEqual({ status: 200, bytes: HUGE, complete: true });
      expect(hugeOrder).toEqual(['caller has first bytes', 'upstream finished']);
      return peak;
    };
    // A first transfer lets the heap and the socket buffers grow to their working size, so the
    // measured one shows what the body itself costs.
    await transfer();
    const before = process.memoryUsage.rss();
    const peak = await transfer();
    // Upstream, gateway and caller share this process: an answer buffered anywhere adds ≥ 50 MiB.
    const growth = peak - before;
    console.info(`huge body: ${HUGE} bytes; RSS before ${before}, peak ${peak}, growth ${growth}`);
    expect(growth).toBeLessThan(HUGE / 3);
  });

  // @control OWASP-API10
  it('garbage instead of an HTTP response: 502 upstream_error', async () => {
    expectProblem(await call('/garbage/v1/x', { token: reader.token }), 502, 'upstream_error');
  });

  // @control OWASP-API10
  it('a 5xx with mask_errors: 502 upstream_error, none of the upstream body or its length', async () => {
    const res = await call('/app/boom', { token: reader.token });
    expectProblem(res, 502, 'upstream_error');
    expect(res.body.toString('utf8')).not.toContain('hunter2');
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
  });

  it('a caller whose body stalls: 408 request_timeout; the upstream never gets a complete request; the breaker is not blamed', async () => {
    intakes = [];
    let stalled: ClientRequest | undefined;
    for (let i = 0; i < 2; i++) {
      const res = await call(`/intake/stall-${i}`, {
        method: 'POST',
        token: writer.token,
        headers: { 'content-type': 'application/json' },
        write: (req) => {
          stalled = req;
          req.write('{"name":');
        },
      });
      expectProblem(res, 408, 'request_timeout');
      // The rest of the body is never read: the connection goes with the answer.
      expect(res.headers.connection).toBe('close');
      stalled?.destroy();
    }
    const records = await until(
      () => (intakes.every((r) => r.complete !== undefined) ? intakes : undefined),
      'the upstream to see the requests end',
    );
    expect(records.map((r) => ({ url: r.url, complete: r.complete }))).toEqual([
      { url: '/intake/stall-0', complete: false },
      { url: '/intake/stall-1', complete: false },
    ]);
    // Two upstream failures would have opened the breaker (failures: 2): the next caller gets through.
    const ok = await call('/intake/whole', {
      method: 'POST',
      token: writer.token,
      headers: { 'content-type': 'application/json' },
      write: (req) => req.end('{"name":"Ada"}'),
    });
    expect({ status: ok.status, body: ok.body.toString('utf8') }).toEqual({ status: 200, body: '{"bytes":14}' });
  });

  it('a caller streaming more than body_limit_bytes (chunked, no Content-Length): 413, the upstream gets no complete request', async () => {
    intakes = [];
    for (let i = 0; i < 2; i++) {
      const res = await call(`/big/big-${i}`, {
        method: 'POST',
        token: writer.token,
        headers: { 'content-type': 'application/octet-stream' },
        // 1600 bytes against a 1024-byte limit, the second half once the upstream is receiving
        // the first, and the body is never finished.
        write: (req) => {
          req.write(Buffer.alloc(800, 'a'));
          void until(() => intakes.find((r) => r.url === `/big/big-${i}` && r.bytes > 0), 'the first bytes upstream').then(() =>
            req.write(Buffer.alloc(800, 'b')),
          );
        },
      });
      expectProblem(res, 413, 'payload_too_large');
      expect(res.headers.connection).toBe('close');
    }
    const records = await until(
      () => (intakes.length === 2 && intakes.every((r) => r.complete !== undefined) ? intakes : undefined),
      'the upstream to see the requests end',
    );
    for (const r of records) expect({ complete: r.complete, withinLimit: r.bytes <= 1024 }).toEqual({ complete: false, withinLimit: true });
    const ok = await call('/big/whole', {
      method: 'POST',
      token: writer.token,
      write: (req) => req.end(Buffer.alloc(1000, 'c')),
    });
    expect(ok.status).toBe(200);
  });

  it('over HTTP/2, a stalled body gets the same 408 problem+json', async () => {
    intakes = [];
    const session = http2.connect(s.url, { ca });
    try {
      const res = await new Promise<{ status: number; headers: http2.IncomingHttpHeaders; text: string }>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/intake/h2-stall', authorization: `Bearer ${writer.token}` });
        let text = '';
        let headers: http2.IncomingHttpHeaders = {};
        req.on('response', (h) => (headers = h));
        req.on('data', (c: Buffer) => (text += c.toString('utf8')));
        req.on('end', () => resolve({ status: Number(headers[':status']), headers, text }));
        req.on('error', reject);
        req.write('{"name":');
      });
      const body = JSON.parse(res.text) as { code?: string; request_id?: string };
      expect({ status: res.status, code: body.code, requestIdMatches: body.request_id === res.headers['x-request-id'] }).toEqual({
        status: 408,
        code: 'request_timeout',
        requestIdMatches: true,
      });
    } finally {
      session.destroy();
    }
    const record = await until(() => (intakes[0]?.complete !== undefined ? intakes[0] : undefined), 'the upstream to see the request end');
    expect(record.complete).toBe(false);
  });

  it('a caller that goes away mid-body: the upstream request is cut, and the breaker is not blamed', async () => {
    intakes = [];
    for (let i = 0; i < 2; i++) {
      const url = `/leave/gone-${i}`;
      const req = request(new URL(url, s.url), {
        method: 'POST',
        agent: false,
        ca,
        headers: { authorization: `Bearer ${writer.token}`, 'content-type': 'application/json' },
      });
      req.on('error', () => undefined);
      req.write('{"name":');
      await until(() => intakes.find((r) => r.url === url && r.bytes > 0), 'the first bytes upstream');
      req.destroy();
    }
    const records = await until(
      () => (intakes.length === 2 && intakes.every((r) => r.complete !== undefined) ? intakes : undefined),
      'the upstream to see the requests end',
    );
    expect(records.map((r) => r.complete)).toEqual([false, false]);
    const ok = await call('/leave/whole', {
      method: 'POST',
      token: writer.token,
      headers: { 'content-type': 'application/json' },
      write: (req) => req.end('{}'),
    });
    expect(ok.status).toBe(200);
  });

  describe('smuggling attempts never reach the upstream', () => {
    /** One raw HTTP/1.1 exchange over TLS; resolves with the first response (or what came before the close). */
    function raw(bytes: string): Promise<{ status: number; head: string; body: string }> {
      const { hostname, port } = new URL(s.url);
      return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: Number(port), servername: hostname, ca, ALPNProtocols: ['http/1.1'] }, () =>
          socket.write(bytes),
        );
        let text = '';
        const done = () => {
          const [head = '', body = ''] = text.split('\r\n\r\n');
          socket.destroy();
          resolve({ status: Number(text.slice(9, 12)), head: head.toLowerCase(), body });
        };
        socket.on('data', (c: Buffer) => {
          text += c.toString('utf8');
          const [head, body] = text.split('\r\n\r\n');
          const length = /content-length: (\d+)/i.exec(head ?? '')?.[1];
          if (body !== undefined && length !== undefined && Buffer.byteLength(body) >= Number(length)) done();
        });
        socket.on('end', done);
        socket.on('error', reject);
      });
    }

    const problemOf = (res: { head: string; body: string }) => {
      const body = JSON.parse(res.body) as { code?: string; request_id?: string };
      return { code: body.code, requestIdMatches: body.request_id === /\r\nx-request-id: (\S+)/.exec(res.head)?.[1] };
    };

    /** Whatever a refused request might have smuggled would have been forwarded before this one is answered. */
    const nothingForwardedBut = async (expected: string) => {
      const res = await raw(
        `GET /app/after HTTP/1.1\r\nHost: ${new URL(s.url).host}\r\nAuthorization: Bearer ${reader.token}\r\nConnection: close\r\n\r\n`,
      );
      expect(res.status).toBe(200);
      expect(seen.map((r) => r.url)).toEqual([expected]);
    };

    it('Transfer-Encoding with Content-Length, in either order or disguised: 400, neither the request nor what it hides is forwarded', async () => {
      const host = new URL(s.url).host;
      const start = `POST /app/echo HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${writer.token}\r\nContent-Type: text/plain\r\n`;
      const hidden = `0\r\n\r\nGET /app/smuggled HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
      const framings = [
        'Content-Length: 48\r\nTransfer-Encoding: chunked',
        'Transfer-Encoding: chunked\r\nContent-Length: 48',
        'Content-Length: 48\r\nTransfer-Encoding: xchunked',
        'Content-Length: 48\r\nTransfer-Encoding : chunked',
        'Content-Length: 48\r\nTransfer-Encoding: chunked, identity',
      ];
      for (const framing of framings) {
        seen = [];
        const res = await raw(`${start}${framing}\r\n\r\n${hidden}`);
        expect({ framing, status: res.status, ...problemOf(res) }).toEqual({
          framing,
          status: 400,
          code: 'invalid_request',
          requestIdMatches: true,
        });
        await nothingForwardedBut('/after');
      }
    });

    it('two Host headers: 400, nothing forwarded', async () => {
      seen = [];
      const res = await raw(
        `GET /app/echo HTTP/1.1\r\nHost: ${new URL(s.url).host}\r\nHost: internal.example\r\nAuthorization: Bearer ${reader.token}\r\nConnection: close\r\n\r\n`,
      );
      expect({ status: res.status, ...problemOf(res) }).toEqual({ status: 400, code: 'invalid_request', requestIdMatches: true });
      await nothingForwardedBut('/after');
    });

    it('Connection naming X-Vaultgate-Assertion or X-Request-Id: the caller cannot strip nor forge them', async () => {
      seen = [];
      const res = await raw(
        `GET /app/echo HTTP/1.1\r\nHost: ${new URL(s.url).host}\r\nAuthorization: Bearer ${reader.token}\r\n` +
          'Connection: keep-alive, X-Vaultgate-Assertion, X-Request-Id\r\nConnection: close, X-Forwarded-For\r\n' +
          'X-Vaultgate-Assertion: forged\r\nX-Request-Id: chosen-by-caller\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n',
      );
      expect(res.status).toBe(200);
      expect(seen).toHaveLength(1);
      const got = seen[0]!.headers;
      const assertion = String(got['x-vaultgate-assertion']);
      expect(decodeProtectedHeader(assertion).typ).toBe('vaultgate-assertion+jwt');
      expect(decodeJwt(assertion).client_id).toBe(reader.clientId);
      expect(got['x-request-id']).toBe(/\r\nx-request-id: (\S+)/.exec(res.head)?.[1]);
      expect(got['x-request-id']).not.toBe('chosen-by-caller');
      expect(got['x-forwarded-for']).toBe('127.0.0.1');
      expect(String(got.connection ?? '')).not.toMatch(/vaultgate|request-id|forwarded/i);
    });
  });
});

/** Open file descriptors of this process (the server runs in the test's own process). */
const openFds = () => readdirSync('/proc/self/fd').length;
const openSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TLSWrap').length;

// The server is started in this process (startTestServer calls startServer), so its RSS and
// descriptors are this process's. SQLite only: the soak is about sockets and memory, not storage.
describe('gateway faults: a soak of failing requests returns RSS and descriptors to where they were [sqlite]', () => {
  const SOAK = 3000;
  const CONCURRENCY = 24;
  const KINDS = {
    refused: { status: 502, code: 'upstream_unreachable' },
    reset: { status: 502, code: 'upstream_unreachable' },
    slow: { status: 504, code: 'upstream_timeout' },
    garbage: { status: 502, code: 'upstream_error' },
  } as const;
  type Kind = keyof typeof KINDS;
  const kinds = Object.keys(KINDS) as Kind[];
  let s: TestServer;
  let dir: string;
  let token: string;
  let ca: Buffer;
  let resetter: NetServer;
  let slow: Server;
  let garbage: NetServer;
  const held = new Set<Socket>();

  beforeAll(async () => {
    // Resets every connection as soon as a request arrives (RST, not FIN).
    resetter = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.resetAndDestroy());
    });
    // Takes the request and never answers.
    slow = createServer(() => undefined);
    slow.on('connection', (socket: Socket) => {
      held.add(socket);
      socket.once('close', () => held.delete(socket));
    });
    garbage = garbageServer();
    const [resetPort, slowPort, garbagePort, refusedPort] = [
      await listen(resetter),
      await listen(slow),
      await listen(garbage),
      await closedPort(),
    ];
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-soak-'));
    const config = path.join(dir, 'vaultgate.yaml');
    // A breaker would turn most of the soak into cheap 503s: its threshold is above each kind's share.
    const upstream = (name: Kind, port: number, extra = '') =>
      `    ${name}: { url: "http://127.0.0.1:${port}", retries: 0, circuit_breaker: { failures: 1000, reset_seconds: 1 }${extra} }`;
    writeFileSync(
      config,
      [
        ...LIFTED_LIMITS,
        'gateway:',
        '  upstreams:',
        upstream('refused', refusedPort),
        upstream('reset', resetPort),
        upstream('slow', slowPort, ', timeout_ms: 100, connect_timeout_ms: 100'),
        upstream('garbage', garbagePort),
        '  routes:',
        ...kinds.map((k) => `    - { prefix: /soak-${k}/, upstream: ${k}, strip_prefix: true, permission: "svc:read" }`),
      ].join('\n'),
    );
    s = await startTestServer('sqlite', { VAULTGATE_CONFIG: config, VAULTGATE_LOG_LEVEL: 'warn' });
    ca = readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem'));
    token = (await s.newClient('acme', ['svc:read'])).token;
  });
  afterAll(async () => {
    await s?.close();
    for (const socket of held) socket.destroy();
    await closeAll(resetter, slow, garbage);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** `total` requests, the kinds in turn, CONCURRENCY at a time; answers the tally of outcomes. */
  async function storm(total: number): Promise<Record<string, number>> {
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca });
    const call = caller(s.url, agent);
    const tally: Record<string, number> = {};
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const kind = kinds[next++ % kinds.length]!;
        const res = await call(`/soak-${kind}/v1/x`, { token });
        let code: string | undefined;
        try {
          code = (JSON.parse(res.body.toString('utf8')) as { code?: string }).code;
        } catch {
          code = undefined;
        }
        const key = `${kind} ${res.status} ${code ?? res.error ?? 'no body'}`;
        tally[key] = (tally[key] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    return tally;
  }

  /** An idle moment and a full GC, then what the process holds. */
  async function settle(gc: () => void) {
    await sleep(1000);
    // A request given up while it waited for a connection leaves that connection idle in the
    // pool until its keep-alive time (4 s) closes it: wait for the slow upstream to have none
    // left (bounded), rather than guess a delay. A leaked connection keeps this at its bound.
    for (let i = 0; i < 100 && held.size > 0; i++) await sleep(100);
    s.logs.length = 0; // the harness keeps log lines in memory; they are not the server's
    gc();
    return { rss: process.memoryUsage.rss(), fds: openFds(), sockets: openSockets(), upstreamConnections: held.size };
  }

  it(`${SOAK} failing requests (refused, reset, timeout, malformed): every one the right problem, nothing leaks`, async () => {
    const gc = collector();
    // Warm-up: lazily built state (JIT, pools, buffers, usage rows) is not a leak.
    await storm(400);
    const before = await settle(gc);
    const tally = await storm(SOAK);
    const after = await settle(gc);
    console.info(
      `soak of ${SOAK}: RSS ${before.rss} -> ${after.rss} (${((after.rss - before.rss) / MIB).toFixed(1)} MiB), ` +
        `fds ${before.fds} -> ${after.fds}, sockets ${before.sockets} -> ${after.sockets}`,
    );
    expect(tally).toEqual(Object.fromEntries(kinds.map((k) => [`${k} ${KINDS[k].status} ${KINDS[k].code}`, SOAK / kinds.length])));
    expect(after.upstreamConnections).toBe(0);
    expect(after.fds).toBeLessThanOrEqual(before.fds + 10);
    expect(after.sockets).toBeLessThanOrEqual(before.sockets + 10);
    expect(after.rss).toBeLessThan(before.rss + 64 * MIB);
  });
});
