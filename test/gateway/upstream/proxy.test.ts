// A service behind vaultgate, end to end on both engines: a real upstream on loopback, routes in
// VAULTGATE_CONFIG, clients with the routes' scopes. The upstream sees no caller credential and a
// signed assertion it can verify with the published JWKS; the caller sees the upstream's answer
// without its banners; every refusal is the gateway's own problem+json.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint, createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../e2e/harness.js';
import { describeEngines, type Engine } from '../../support/databases.js';
import { createClient } from '../../e2e/http.js';
import { dpopProof, newDpopKey } from '../../fapi/fapi-client.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

describeEngines('gateway: a service behind vaultgate', (engine: Engine) => {
  let upstream: Server;
  let seen: Seen[] = [];
  let dir: string;
  let s: TestServer;
  let reader: Awaited<ReturnType<TestServer['newClient']>>;
  let writer: Awaited<ReturnType<TestServer['newClient']>>;
  let other: Awaited<ReturnType<TestServer['newClient']>>;
  let auditor: Awaited<ReturnType<TestServer['newClient']>>;
  let closedPort: number;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.setHeader('server', 'kyc-engine/1.2.3');
        res.setHeader('x-powered-by', 'Express');
        res.setHeader('x-vaultgate-principal', 'forged');
        if (req.url!.startsWith('/v1/missing/')) {
          res.statusCode = 404;
          res.end('{"error":"not found"}');
          return;
        }
        if (req.url!.startsWith('/v1/stream')) {
          // Chunked, without a length: usage analytics must count what went by.
          res.write('a'.repeat(1000));
          res.end('b'.repeat(500));
          return;
        }
        if (req.url!.startsWith('/v1/boom')) {
          res.statusCode = 500;
          res.end('Traceback: database password=hunter2');
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ ok: true, url: req.url }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    closedPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));

    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-gateway-'));
    const config = path.join(dir, 'vaultgate.yaml');
    writeFileSync(
      config,
      [
        'gateway:',
        '  deny_ips: [127.0.0.2]',
        '  upstreams:',
        `    kyc: { url: "http://127.0.0.1:${port}", timeout_ms: 2000, retries: 0 }`,
        `    gone: { url: "http://127.0.0.1:${closedPort}", retries: 0, connect_timeout_ms: 500, circuit_breaker: { failures: 2, reset_seconds: 30 } }`,
        '  routes:',
        '    - { prefix: /kyc/, upstream: kyc, strip_prefix: true, methods: [GET, POST], permission: "kyc:read", write_permission: "kyc:write", body_limit_bytes: 1024 }',
        '    - { prefix: /gone/, upstream: gone, strip_prefix: true, permission: "kyc:read" }',
        '    - { prefix: /restricted/, upstream: kyc, strip_prefix: true, permission: "kyc:read", allow_ips: [10.0.0.0/8] }',
        // A route of the admin class, whose limit is tiny here, for the 429-storm test (no other test uses the class).
        '    - { prefix: /kyc-admin/, upstream: kyc, strip_prefix: true, permission: "kyc:read", rate_limit: admin }',
        'rate_limits:',
        '  tiers: { default: { admin: { limit: 3, window_seconds: 60 } } }',
        'alerts:',
        '  rules: { rate_limit_storm: { threshold: 5, window_seconds: 60 } }',
      ].join('\n'),
    );
    s = await startTestServer(engine, { VAULTGATE_CONFIG: config });
    reader = await s.newClient('acme', ['kyc:read']);
    writer = await s.newClient('acme', ['kyc:read', 'kyc:write']);
    other = await s.newClient('acme', ['accounts:read']);
    auditor = await s.newClient('acme', ['audit:read']);
  });
  afterAll(async () => {
    await s?.close();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards without the caller credentials, with forwarding headers and a verifiable assertion', async () => {
    seen = [];
    const res = await s.http.call('/kyc/v1/checks?state=open', {
      token: reader.token,
      headers: { cookie: 'sid=1', 'x-forwarded-for': '6.6.6.6', 'x-vaultgate-assertion': 'forged', forwarded: 'for=6.6.6.6' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, url: '/v1/checks?state=open' });
    // The caller does not see the upstream's banners or its X-Vaultgate-* headers; it gets ours.
    expect(res.headers.server).toBeUndefined();
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-vaultgate-principal']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const got = seen[0]!;
    expect(got.headers.authorization).toBeUndefined();
    expect(got.headers.cookie).toBeUndefined();
    expect(got.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(got.headers['x-request-id']).toBe(res.headers['x-request-id']);
    expect(got.headers.forwarded).toMatch(/^for=127\.0\.0\.1;proto=https;host=/);
    const assertion = String(got.headers['x-vaultgate-assertion']);
    expect(assertion).not.toBe('forged');

    // The upstream verifies it with the JWKS that discovery publishes.
    const discovery = await s.http.call('/.well-known/openid-configuration');
    const jwks = await s.http.call(new URL(discovery.body.jwks_uri as string).pathname);
    const keys = createLocalJWKSet(jwks.body);
    const { payload, protectedHeader } = await jwtVerify(assertion, keys, {
      issuer: s.url,
      audience: 'kyc',
      typ: 'vaultgate-assertion+jwt',
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect({ client_id: payload.client_id, tenant_id: payload.tenant_id, scope: payload.scope, sub: payload.sub }).toEqual({
      client_id: reader.clientId,
      tenant_id: reader.tenantId,
      scope: 'kyc:read',
      sub: reader.clientId,
    });
    expect(payload.exp! - payload.iat!).toBe(60);
    expect(payload.cnf).toBeUndefined(); // a bearer token has no binding to pass on
    // Minted for kyc: another upstream refuses it; 61 s later, so does kyc.
    await expect(jwtVerify(assertion, keys, { issuer: s.url, audience: 'cards' })).rejects.toThrow();
    await expect(
      jwtVerify(assertion, keys, { issuer: s.url, audience: 'kyc', currentDate: new Date((payload.iat! + 61) * 1000) }),
    ).rejects.toThrow();
  });

  it("a DPoP-bound caller's key binding travels in the assertion's cnf", async () => {
    const created = await s.server.services.identity.clients.create({
      tenant: 'acme',
      name: 'kyc-dpop',
      scopes: ['kyc:read'],
      binding: 'dpop',
    });
    const key = await newDpopKey();
    const tokenRes = await s.http.call('/oauth/token', {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${created.client_id}:${created.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        dpop: await dpopProof(key, 'POST', `${s.url}/oauth/token`),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'kyc:read' }).toString(),
    });
    expect(tokenRes.status).toBe(200);
    const token = tokenRes.body.access_token as string;
    seen = [];
    const res = await s.http.call('/kyc/v1/checks', {
      headers: { authorization: `DPoP ${token}`, dpop: await dpopProof(key, 'GET', `${s.url}/kyc/v1/checks`, token) },
    });
    expect(res.status).toBe(200);
    expect(seen[0]!.headers.dpop).toBeUndefined();
    const payload = decodeJwt(String(seen[0]!.headers['x-vaultgate-assertion']));
    expect(payload.cnf).toEqual({ jkt: await calculateJwkThumbprint(key.jwk) });
  });

  it('refusals before the upstream: no token 401, missing scope 403, write scope for writes, a method not routed 405', async () => {
    seen = [];
    const none = await s.http.call('/kyc/v1/checks');
    expect({ status: none.status, code: none.body.code }).toEqual({ status: 401, code: 'invalid_token' });
    const wrong = await s.http.call('/kyc/v1/checks', { token: other.token });
    expect({ status: wrong.status, code: wrong.body.code }).toEqual({ status: 403, code: 'insufficient_scope' });
    const readOnly = await s.http.call('/kyc/v1/checks', { token: reader.token, body: { name: 'x' } });
    expect({ status: readOnly.status, code: readOnly.body.code }).toEqual({ status: 403, code: 'insufficient_scope' });
    const del = await s.http.call('/kyc/v1/checks/1', { token: writer.token, method: 'DELETE' });
    expect({ status: del.status, code: del.body.code, allow: del.headers.allow }).toEqual({
      status: 405,
      code: 'method_not_allowed',
      allow: 'GET, HEAD, POST',
    });
    const big = await s.http.call('/kyc/v1/checks', { token: writer.token, body: { blob: 'x'.repeat(2000) } });
    expect({ status: big.status, code: big.body.code }).toEqual({ status: 413, code: 'payload_too_large' });
    // Outside the allowlist: refused before authentication, so even no token gets 403.
    const outside = await s.http.call('/restricted/v1/checks');
    expect({ status: outside.status, code: outside.body.code }).toEqual({ status: 403, code: 'forbidden' });
    expect(seen).toEqual([]);
  });

  it('the global denylist refuses an address on every route, ours and the upstreams, before authentication', async () => {
    const denied = createClient(s.url, readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem')));
    Object.assign(denied.agent.options, { localAddress: '127.0.0.2' });
    seen = [];
    for (const route of ['/kyc/v1/checks', '/v1/accounts', '/oauth/token']) {
      const res = await denied.call(route, { token: reader.token });
      expect({ route, status: res.status, code: res.body.code }).toEqual({ route, status: 403, code: 'forbidden' });
    }
    expect(seen).toEqual([]);
    denied.agent.destroy();
  });

  // @control PCI-10.2.2
  it('a write reaches the upstream with its body and is audited with upstream, method, path and status', async () => {
    seen = [];
    const res = await s.http.call('/kyc/v1/checks', { token: writer.token, body: { name: 'Ada' } });
    expect(res.status).toBe(200);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v1/checks', body: '{"name":"Ada"}' });
    let event: any;
    for (let i = 0; i < 50 && !event; i++) {
      const audit = await s.http.call('/v1/audit-events?action=gateway.proxied_write', { token: auditor.token });
      event = audit.body.data.find((e: any) => e.request_id === res.headers['x-request-id']);
      if (!event) await new Promise((r) => setTimeout(r, 100));
    }
    expect(event.details).toEqual({ upstream: 'kyc', method: 'POST', path: '/kyc/v1/checks', status: 200 });
    expect(event.actor.client_id).toBe(writer.clientId);
  });

  it('over HTTP/2, a body without Content-Length still reaches the upstream', async () => {
    seen = [];
    const session = http2.connect(s.url, { ca: readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem')) });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/kyc/v1/checks', authorization: `Bearer ${writer.token}` });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.end('{"name":"Grace"}');
        req.resume();
      });
      expect(status).toBe(200);
      expect(seen[0]).toMatchObject({ method: 'POST', url: '/v1/checks', body: '{"name":"Grace"}' });
    } finally {
      session.close();
    }
  });

  it('upstream failures are the gateway problem+json: a 5xx masked (502 upstream_error), down 502 upstream_unreachable', async () => {
    const boom = await s.http.call('/kyc/v1/boom', { token: reader.token });
    expect({ status: boom.status, code: boom.body.code }).toEqual({ status: 502, code: 'upstream_error' });
    expect(boom.text).not.toContain('hunter2');
    expect(boom.body.request_id).toBe(boom.headers['x-request-id']);
    const down = await s.http.call('/gone/v1/anything', { token: reader.token });
    expect({ status: down.status, code: down.body.code }).toEqual({ status: 502, code: 'upstream_unreachable' });
  });

  it('the breaker opens after the failures in a row: 503 upstream_unavailable with Retry-After, and /metrics says so per upstream', async () => {
    // The previous test failed once against `gone`; one more opens the breaker (failures: 2).
    const second = await s.http.call('/gone/v1/anything', { token: reader.token });
    expect(second.body.code).toBe('upstream_unreachable');
    const open = await s.http.call('/gone/v1/anything', { token: reader.token });
    expect({ status: open.status, code: open.body.code }).toEqual({ status: 503, code: 'upstream_unavailable' });
    expect(Number(open.headers['retry-after'])).toBeGreaterThan(0);
    const ops = await s.newClient('platform', ['metrics:read']);
    const metrics = (await s.http.call('/metrics', { token: ops.token })).text;
    expect(metrics).toMatch(/vaultgate_upstream_requests_total\{upstream="gone",outcome="upstream_unreachable",service="vaultgate"\} 2/);
    expect(metrics).toMatch(/vaultgate_upstream_requests_total\{upstream="gone",outcome="upstream_unavailable",service="vaultgate"\} 1/);
    expect(metrics).toMatch(/vaultgate_upstream_circuit_state\{upstream="gone",service="vaultgate"\} 2/);
    expect(metrics).toMatch(/vaultgate_upstream_circuit_state\{upstream="kyc",service="vaultgate"\} 0/);
    // No per-client label on the upstream series.
    expect(
      metrics
        .split('\n')
        .filter((l) => l.startsWith('vaultgate_upstream_'))
        .some((l) => l.includes('client')),
    ).toBe(false);
  });

  it('object scanning through a proxied service raises the object_scanning alert', async () => {
    const scanner = await s.newClient('acme', ['kyc:read']);
    const watcher = await s.newClient('acme', ['alerts:read']);
    for (let i = 0; i < 12; i++) {
      expect((await s.http.call(`/kyc/v1/missing/chk_${i}`, { token: scanner.token })).status).toBe(404);
    }
    let alert: any;
    for (let i = 0; i < 50 && !alert; i++) {
      const res = await s.http.call('/v1/alerts', { token: watcher.token });
      alert = (res.body.data as any[]).find((a) => a.rule === 'object_scanning' && a.subject.includes(scanner.clientId));
      if (!alert) await new Promise((r) => setTimeout(r, 100));
    }
    expect(alert).toMatchObject({ rule: 'object_scanning', severity: 'high', tenant_id: scanner.tenantId });
    // The evidence names requests, never the scanned paths.
    expect(JSON.stringify(alert)).not.toContain('chk_');
  });

  it('a 429 storm through a proxied route raises the rate_limit_storm alert; the upstream sees only the allowed requests', async () => {
    const greedy = await s.newClient('acme', ['kyc:read']);
    const watcher = await s.newClient('acme', ['alerts:read']);
    seen = [];
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) statuses.push((await s.http.call('/kyc-admin/v1/checks', { token: greedy.token })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 429, 429]);
    expect(seen).toHaveLength(3);
    let alert: any;
    for (let i = 0; i < 50 && !alert; i++) {
      const res = await s.http.call('/v1/alerts', { token: watcher.token });
      alert = (res.body.data as any[]).find((a) => a.rule === 'rate_limit_storm' && a.subject.includes(greedy.clientId));
      if (!alert) await new Promise((r) => setTimeout(r, 100));
    }
    expect(alert).toMatchObject({ rule: 'rate_limit_storm', severity: 'medium', tenant_id: greedy.tenantId });
  });

  it('usage analytics counts body bytes that no Content-Length declares: a chunked request, a streamed answer', async () => {
    const counted = await s.newClient('acme', ['kyc:read', 'kyc:write']);
    const analyst = await s.newClient('acme', ['analytics:read']);
    // The test client sends bodies chunked (no Content-Length).
    const post = await s.http.call('/kyc/v1/echo', { token: counted.token, body: { note: 'x'.repeat(288) } });
    expect(post.status).toBe(200);
    const streamed = await s.http.call('/kyc/v1/stream', { token: counted.token });
    expect([streamed.status, streamed.text.length, streamed.headers['content-length']]).toEqual([200, 1500, undefined]);
    let group: any;
    for (let i = 0; i < 50 && group?.requests !== 2; i++) {
      const res = await s.http.call('/v1/admin/usage?group_by=client,route,status', { token: analyst.token });
      group = (res.body.groups as any[]).find((g) => g.client_id === counted.clientId);
      if (group?.requests !== 2) await new Promise((r) => setTimeout(r, 200));
    }
    expect(group).toMatchObject({ route: '/kyc/*', upstream: 'kyc', status_class: '2xx', requests: 2 });
    expect(group.bytes_in).toBe(299); // {"note":"x…x"}: 288 + 11
    expect(group.bytes_out).toBe(1500 + Buffer.byteLength(post.text));
  });
});
