// HTTP/2 through ALPN on the same listener as HTTP/1.1: negotiation, the API, the authorization
// server (oidc-provider behind the compatibility API), problem+json and security headers, alert
// streams, certificate-bound tokens, graceful shutdown and the slowloris/idle limits of sessions.
// Real server, real node:http2 client.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import pino from 'pino';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { HTTP2_LIMITS, createListener } from '../../src/listener/listener.js';
import { peerCertificate } from '../../src/lib/auth-request.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { writeConfig } from '../traffic/support.js';

interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  text: string;
  body: any;
}

type Pem = { cert: string; key: string };

function connect(url: string, ca: Buffer, cert?: Pem): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, { ca, ...(cert ?? {}) });
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

function call(
  session: http2.ClientHttp2Session,
  pathname: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; token?: string } = {},
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': options.method ?? (options.body === undefined ? 'GET' : 'POST'),
      ':path': pathname,
      ...(options.headers ?? {}),
    };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const stream = session.request(headers);
    let status = 0;
    let responseHeaders: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      responseHeaders = h;
      status = Number(h[':status']);
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      resolve({ status, headers: responseHeaders, text, body });
    });
    stream.on('error', reject);
    stream.end(options.body);
  });
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const closed = (session: http2.ClientHttp2Session) =>
  new Promise<void>((resolve) => (session.closed || session.destroyed ? resolve() : session.once('close', () => resolve())));

describe('HTTP/2 through ALPN', () => {
  let s: TestServer;
  let ca: Buffer;
  let session: http2.ClientHttp2Session;
  beforeAll(async () => {
    s = await startTestServer('sqlite');
    ca = readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem'));
    session = await connect(s.url, ca);
  });
  afterAll(async () => {
    session?.destroy();
    await s?.close();
  });

  it('negotiates h2 when offered, http/1.1 otherwise', async () => {
    expect(session.alpnProtocol).toBe('h2');
    const port = Number(new URL(s.url).port);
    const alpn = (protocols: string[] | undefined) =>
      new Promise<string | false | null>((resolve, reject) => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port,
          servername: 'localhost',
          ca,
          ...(protocols ? { ALPNProtocols: protocols } : {}),
        });
        socket.once('secureConnect', () => {
          resolve(socket.alpnProtocol);
          socket.destroy();
        });
        socket.once('error', reject);
      });
    expect(await alpn(['http/1.1', 'h2'])).toBe('h2'); // the server's preference wins
    expect(await alpn(['http/1.1'])).toBe('http/1.1');
    expect(await alpn(undefined)).toBe(false); // no ALPN: HTTP/1.1 (the existing tests' clients)
  });

  it('announces the flood limits in its SETTINGS', () => {
    expect(session.remoteSettings.maxConcurrentStreams).toBe(HTTP2_LIMITS.maxConcurrentStreams);
    expect(session.remoteSettings.maxHeaderListSize).toBe(HTTP2_LIMITS.maxHeaderListSize);
  });

  it('serves /healthz with the security headers and no connection-specific header', async () => {
    const res = await call(session, '/healthz');
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-request-id']).toEqual(expect.any(String));
    for (const hop of ['connection', 'keep-alive', 'transfer-encoding']) expect(res.headers[hop], hop).toBeUndefined();
  });

  it('issues a token through /oauth/token and serves an authenticated API call', async () => {
    const discovery = await call(session, '/.well-known/openid-configuration');
    expect(discovery.status).toBe(200);
    expect(discovery.body.token_endpoint).toBe(`${s.url}/oauth/token`);
    expect(discovery.headers['x-request-id']).toEqual(expect.any(String));

    const client = await s.server.services.identity.clients.create({
      tenant: 'acme',
      name: 'h2',
      scopes: ['customers:read', 'customers:write'],
    });
    const tokenRes = await call(session, '/oauth/token', {
      method: 'POST',
      headers: {
        authorization: basic(client.client_id, client.client_secret as string),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: form({ grant_type: 'client_credentials', scope: 'customers:read customers:write' }),
    });
    expect(tokenRes.status).toBe(200);
    expect(tokenRes.headers['cache-control']).toMatch(/no-store/);
    const token = tokenRes.body.access_token as string;

    const created = await call(session, '/v1/customers', { token, body: JSON.stringify({ full_name: 'Ada', email: 'ada@example.com' }) });
    expect(created.status).toBe(201);
    const read = await call(session, `/v1/customers/${created.body.id}`, { token });
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(created.body.id);
    expect(read.headers['cache-control']).toBe('no-store');
    expect(read.headers.ratelimit).toEqual(expect.any(String));
    // HTTP/1.1 clients see the same data.
    expect((await s.http.call(`/v1/customers/${created.body.id}`, { token })).status).toBe(200);
  });

  it('answers errors as problem+json', async () => {
    const unauthenticated = await call(session, '/v1/customers/cus_nope');
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(unauthenticated.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(unauthenticated.body).toMatchObject({ status: 401, code: expect.any(String), request_id: expect.any(String) });
    const unknown = await call(session, '/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/);
    const badToken = await call(session, '/oauth/token', {
      method: 'POST',
      headers: { authorization: basic('nobody', 'wrong'), 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ grant_type: 'client_credentials' }),
    });
    expect(badToken.status).toBe(401);
  });

  it('streams alerts (SSE) over a stream of its own', async () => {
    const admin = await s.server.services.identity.clients.create({ tenant: 'acme', name: 'h2-alerts', scopes: ['alerts:read'] });
    const tokenRes = await call(session, '/oauth/token', {
      method: 'POST',
      headers: {
        authorization: basic(admin.client_id, admin.client_secret as string),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: form({ grant_type: 'client_credentials', scope: 'alerts:read' }),
    });
    expect(tokenRes.status).toBe(200);
    const stream = session.request({
      ':path': '/v1/alerts/stream',
      authorization: `Bearer ${tokenRes.body.access_token}`,
      accept: 'text/event-stream',
    });
    const head = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => stream.once('response', resolve).once('error', reject));
    expect(head[':status']).toBe(200);
    expect(head['content-type']).toMatch(/^text\/event-stream/);
    const first = await new Promise<string>((resolve) => stream.once('data', (c: Buffer) => resolve(c.toString())));
    expect(first).toContain(': connected');
    stream.close();
    // The session carries on.
    expect((await call(session, '/healthz')).status).toBe(200);
  });
});

describe('certificate-bound tokens over HTTP/2 (VAULTGATE_TLS_CLIENT_CA)', () => {
  let s: TestServer;
  let ca: Buffer;
  let dir: string;
  let good: Pem;
  let other: Pem;
  let foreign: Pem;
  const issue = async (cn: string, signer?: { key: string; cert: string }) =>
    selfsigned.generate([{ name: 'commonName', value: cn }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ...(signer ? { ca: signer } : {}),
      extensions: signer
        ? [
            { name: 'basicConstraints', cA: false },
            { name: 'keyUsage', digitalSignature: true },
            { name: 'extKeyUsage', clientAuth: true },
          ]
        : [
            { name: 'basicConstraints', cA: true },
            { name: 'keyUsage', keyCertSign: true, digitalSignature: true },
          ],
    });
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-h2-mtls-'));
    const root = await issue('vaultgate h2 test CA');
    const elsewhere = await issue('someone else CA');
    writeFileSync(path.join(dir, 'ca.pem'), root.cert);
    const a = await issue('svc.acme', { key: root.private, cert: root.cert });
    const b = await issue('svc.acme', { key: root.private, cert: root.cert }); // same subject, other key
    const c = await issue('svc.acme', { key: elsewhere.private, cert: elsewhere.cert });
    good = { cert: a.cert, key: a.private };
    other = { cert: b.cert, key: b.private };
    foreign = { cert: c.cert, key: c.private };
    s = await startTestServer('sqlite', { VAULTGATE_TLS_CLIENT_CA: path.join(dir, 'ca.pem') });
    ca = readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem'));
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('authenticates tls_client_auth and binds the token to the certificate; another certificate or none is refused', async () => {
    const svc = await s.newClient('acme');
    const cus = await s.http.call('/v1/customers', { token: svc.token, body: { full_name: 'Ada', email: 'ada@example.com' } });
    const client = await s.server.services.identity.clients.create({
      tenant: 'acme',
      name: 'mtls-h2',
      scopes: ['customers:read'],
      authMethod: 'tls_client_auth',
      tlsSubject: 'CN=svc.acme',
      binding: 'mtls',
    });
    const tokenBody = form({ grant_type: 'client_credentials', client_id: client.client_id, scope: 'customers:read' });
    // With Content-Length here (the other tests send none: HTTP/2 frames the body without it).
    const tokenHeaders = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(tokenBody)) };

    const withGood = await connect(s.url, ca, good);
    const withOther = await connect(s.url, ca, other);
    const withNone = await connect(s.url, ca);
    try {
      expect(withGood.alpnProtocol).toBe('h2');
      const tokenRes = await call(withGood, '/oauth/token', { method: 'POST', headers: tokenHeaders, body: tokenBody });
      expect(tokenRes.status).toBe(200);
      const token = tokenRes.body.access_token as string;
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
      expect(claims.cnf['x5t#S256']).toEqual(expect.any(String));

      const url = `/v1/customers/${cus.body.id}`;
      expect((await call(withGood, url, { token })).status).toBe(200);
      const mismatch = await call(withOther, url, { token });
      expect({ status: mismatch.status, code: mismatch.body.code }).toEqual({ status: 401, code: 'invalid_token' });
      const none = await call(withNone, url, { token });
      expect({ status: none.status, code: none.body.code }).toEqual({ status: 401, code: 'invalid_token' });
      // Without a certificate the token endpoint refuses the mTLS client outright.
      expect((await call(withNone, '/oauth/token', { method: 'POST', headers: tokenHeaders, body: tokenBody })).status).toBe(401);
    } finally {
      for (const session of [withGood, withOther, withNone]) session.destroy();
    }
  });

  it('refuses a certificate from a foreign CA at the TLS layer', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const session = http2.connect(s.url, { ca, ...foreign });
      session.on('error', () => undefined);
      const req = session.request({ ':path': '/healthz' });
      req.on('response', (h) => resolve(`status ${String(h[':status'])}`));
      req.on('error', () => resolve('refused'));
      req.on('close', () => resolve('refused'));
      session.once('close', () => resolve('refused'));
      req.end();
    });
    expect(outcome).toBe('refused');
  });
});

describe('HTTP/2 sessions: graceful shutdown and idle/slow limits', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  /** The bare listener with a handler the test controls. */
  async function listener(config = '') {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-h2-listener-'));
    dirs.push(dataDir);
    const env: Record<string, string> = { VAULTGATE_DATA_DIR: dataDir, VAULTGATE_PORT: '0' };
    if (config) env.VAULTGATE_CONFIG = writeConfig(config);
    const l = await createListener(loadConfig(env), pino({ level: 'silent' }));
    await new Promise<void>((resolve) => l.server.listen(0, '127.0.0.1', resolve));
    const url = `https://localhost:${(l.server.address() as AddressInfo).port}`;
    return { l, url, ca: readFileSync(path.join(dataDir, 'dev-tls-cert.pem')) };
  }

  it('close() ends idle sessions at once and lets an in-flight request finish', async () => {
    const { l, url, ca } = await listener();
    let certificateSeen: unknown = 'unset';
    l.serve((req, res) => {
      certificateSeen = peerCertificate(req);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`got ${Buffer.concat(chunks).length}`);
      });
    });
    const idle = await connect(url, ca);
    const busy = await connect(url, ca);
    expect((await call(idle, '/', { body: 'x' })).text).toBe('got 1');
    expect(certificateSeen).toBeUndefined(); // no client certificate on this listener, no crash either

    // A request in flight: headers and half of the body sent.
    const stream = busy.request({ ':method': 'POST', ':path': '/upload' });
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      let status = 0;
      let text = '';
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', (c: Buffer) => (text += c.toString()));
      stream.on('end', () => resolve({ status, text }));
      stream.on('error', reject);
    });
    stream.write('12345');
    await new Promise((r) => setTimeout(r, 50));

    let shutDown = false;
    const closing = l.close(10_000).then(() => (shutDown = true));
    const goaway = new Promise<void>((resolve) => busy.once('goaway', () => resolve()));
    await closed(idle); // the idle session is closed by the server, not by the 10 s cap
    await goaway; // the busy one is told to open no new stream
    expect(shutDown).toBe(false); // still draining the request in flight
    stream.end('67890');
    expect(await answer).toEqual({ status: 200, text: 'got 10' });
    await closing;
    expect(shutDown).toBe(true);
    busy.destroy();
  });

  it('close() destroys what is still open when the grace period ends', async () => {
    const { l, url, ca } = await listener();
    l.serve(() => undefined); // never answers
    const session = await connect(url, ca);
    session.on('error', () => undefined);
    const stream = session.request({ ':path': '/hang' });
    stream.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 50));
    await l.close(200);
    await closed(session);
    expect(session.destroyed || session.closed).toBe(true);
  });

  it('closes a session that never sends a request, and one left idle after its requests', async () => {
    const { l, url, ca } = await listener('rate_limits:\n  timeouts: { headers_seconds: 1, request_seconds: 2, keep_alive_seconds: 1 }\n');
    l.serve((_req, res) => res.end('ok'));
    try {
      const silent = await connect(url, ca);
      silent.on('error', () => undefined);
      await closed(silent);

      const used = await connect(url, ca);
      used.on('error', () => undefined);
      expect((await call(used, '/')).text).toBe('ok');
      expect((await call(used, '/')).text).toBe('ok');
      await closed(used);
    } finally {
      await l.close(1_000);
    }
  });

  it('keeps the HTTP/1.1 limits for HTTP/1.1 connections: an idle keep-alive socket is closed', async () => {
    const { l, url, ca } = await listener('rate_limits:\n  timeouts: { headers_seconds: 1, request_seconds: 2, keep_alive_seconds: 1 }\n');
    l.serve((_req, res) => res.end('ok'));
    try {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: Number(new URL(url).port),
        servername: 'localhost',
        ca,
        ALPNProtocols: ['http/1.1'],
      });
      await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      expect(socket.alpnProtocol).toBe('http/1.1');
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString()));
      socket.on('error', () => undefined);
      socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      expect(received).toMatch(/^HTTP\/1\.1 200/);
      expect(received).toMatch(/keep-alive/i); // the server kept it open, then closed it when idle
      // HTTP/1.1 still requires Host (as on node:http's server).
      const noHost = tls.connect({
        host: '127.0.0.1',
        port: Number(new URL(url).port),
        servername: 'localhost',
        ca,
        ALPNProtocols: ['http/1.1'],
      });
      await new Promise<void>((resolve, reject) => noHost.once('secureConnect', resolve).once('error', reject));
      let answer = '';
      noHost.on('data', (d: Buffer) => (answer += d.toString()));
      noHost.on('error', () => undefined);
      noHost.write('GET / HTTP/1.1\r\n\r\n');
      await new Promise<void>((resolve) => noHost.once('close', () => resolve()));
      expect(answer).toMatch(/^HTTP\/1\.1 400/);
    } finally {
      await l.close(1_000);
    }
  });

  it('cancels a request whose body does not arrive within the request timeout', async () => {
    const { l, url, ca } = await listener('rate_limits:\n  timeouts: { headers_seconds: 1, request_seconds: 2, keep_alive_seconds: 1 }\n');
    l.serve((req, res) => {
      req.resume();
      req.on('end', () => res.end('done'));
    });
    try {
      const session = await connect(url, ca);
      session.on('error', () => undefined);
      const stream = session.request({ ':method': 'POST', ':path': '/slow' });
      stream.on('error', () => undefined);
      stream.write('a');
      const trickle = setInterval(() => !stream.destroyed && stream.write('a'), 200);
      await new Promise<void>((resolve) => stream.once('close', () => resolve()));
      clearInterval(trickle);
      expect(stream.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
      // The session itself stays usable.
      if (!session.closed && !session.destroyed) expect((await call(session, '/', { body: 'x' })).text).toBe('done');
      session.destroy();
    } finally {
      await l.close(1_000);
    }
  });
});
