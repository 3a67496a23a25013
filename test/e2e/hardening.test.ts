// Findings of a penetration test, each kept as a regression test against the real server:
// spellings of the client-authentication endpoints share one lockout; NUL characters, charsets
// other than UTF-8, invalid UTF-8 and unplaceable dates are refused as the caller's mistake (never
// a 500); router and parser errors answer in problem+json with the request id and security
// headers; HTTP/2 header lists are held to the same 16 KiB as HTTP/1.1; the OAuth error page has
// a CSP; the SSE stream carries the rate-limit headers; behind a proxy, only the proxy's own
// X-Forwarded-For entry counts as the caller's address.
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStream } from '../monitoring/support.js';
import { writeConfig } from '../traffic/support.js';
import { describeEngines, type Engine } from '../support/databases.js';
import { startTestServer, type TestServer } from './harness.js';

const execFileAsync = promisify(execFile);
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

function expectProblem(res: { status: number; headers: Record<string, unknown>; body: any }, status: number, code: string) {
  expect([res.status, res.body?.code]).toEqual([status, code]);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['x-request-id']).toBe(res.body.request_id);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['strict-transport-security']).toMatch(/max-age=/);
}

/** A raw HTTPS request: a Buffer body or headers the JSON client would not send. */
function rawCall(s: TestServer, p: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer }) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: any }>((resolve, reject) => {
    // The target as given (a URL object would drop a '#' and what follows it).
    const { hostname, port } = new URL(s.url);
    const req = httpsRequest(
      {
        hostname,
        port,
        path: p,
        method: options.method ?? 'GET',
        headers: options.headers,
        ca: readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem')),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    if (options.body) req.write(options.body);
    req.end();
  });
}

describe('the client-authentication endpoints share one lockout, however they are spelled', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('sqlite', {
      VAULTGATE_CONFIG: writeConfig(
        'rate_limits:\n  brute_force: { free_attempts: 3, base_lockout_seconds: 600, max_lockout_seconds: 600 }\n',
      ),
    });
  });
  afterAll(async () => s?.close());

  it('case, a trailing slash or another endpoint do not reset the count; an escaped path is not found', async () => {
    const client = await s.newClient('acme', ['accounts:read']);
    const wrong = (p: string) =>
      s.http.call(p, {
        method: 'POST',
        headers: { ...form, authorization: basic(client.clientId, 'wrong') },
        body: 'grant_type=client_credentials&scope=accounts:read',
      });
    expect((await wrong('/oauth/token')).status).toBe(401);
    expect((await wrong('/oauth/Token')).status).toBe(401);
    expect((await wrong('/oauth/token/')).status).toBe(401);
    // Three failures in all: the fourth, on any spelling or endpoint, finds the client locked.
    expect((await wrong('/oauth/introspect')).status).toBe(401);
    for (const p of ['/oauth/TOKEN', '/oauth/token/', '/oauth/revoke', '/oauth/par']) {
      const locked = await wrong(p);
      expect([p, locked.status, locked.body?.code]).toEqual([p, 429, 'rate_limited']);
    }
    const right = await s.http.call('/oauth/TOKEN', {
      method: 'POST',
      headers: { ...form, authorization: basic(client.clientId, client.secret) },
      body: 'grant_type=client_credentials&scope=accounts:read',
    });
    expect(right.status).toBe(429);
    // A %-escaped spelling never reaches the authorization server.
    expectProblem(await wrong('/oauth/%74oken'), 404, 'not_found');
    expectProblem(await s.http.call('/.well-known/openid-configuratio%6E'), 404, 'not_found');
    expectProblem(await s.http.call('/%6Fauth/jwks'), 404, 'not_found');
    // Characters a request target may not hold, which another parser would strip or trim.
    for (const target of ['/oauth/token#', '/oauth/token#x', '/oauth/token?a#b']) {
      const res = await rawCall(s, target, {
        method: 'POST',
        headers: { ...form, authorization: basic(client.clientId, client.secret) },
        body: Buffer.from('grant_type=client_credentials'),
      });
      expectProblem(res, 400, 'invalid_request');
    }
  });
});

describeEngines('input the database must never see', (engine: Engine) => {
  let s: TestServer;
  let acme: Awaited<ReturnType<TestServer['newClient']>>;
  let account: string;
  beforeAll(async () => {
    s = await startTestServer(engine);
    acme = await s.newClient('acme', ['customers:write', 'accounts:write', 'accounts:read', 'ledger:fund']);
    const cus = await s.http.call('/v1/customers', { token: acme.token, body: { full_name: 'Nul Test', email: 'nul@example.com' } });
    account = (await s.http.call('/v1/accounts', { token: acme.token, body: { customer_id: cus.body.id, currency: 'EUR' } })).body.id;
  });
  afterAll(async () => s?.close());

  it('a NUL character in a body or a query is a 400, never a 500', async () => {
    const dep = await s.http.call('/v1/deposits', {
      token: acme.token,
      headers: { 'idempotency-key': 'nul-1' },
      body: { account_id: account, amount: 100, currency: 'EUR', reference: 'a\u0000b' },
    });
    expectProblem(dep, 400, 'validation_failed');
    const key = await s.http.call('/v1/customers', { token: acme.token, body: '{"full_name":"x","email":"x@example.com","a\\u0000":1}' });
    expectProblem(key, 400, 'validation_failed');
    // An escaped backslash before "u0000" is text, not a NUL.
    const text = await s.http.call('/v1/deposits', {
      token: acme.token,
      headers: { 'idempotency-key': 'nul-2' },
      body: '{"account_id":"' + account + '","amount":100,"currency":"EUR","reference":"C:\\\\u0000"}',
    });
    expect(text.status).toBe(201);
    expect(text.body.reference).toBe('C:\\u0000');
    expectProblem(await s.http.call('/v1/accounts?customer_id=cus_%00'), 400, 'validation_failed');
    const auditor = await s.newClient('acme', ['audit:read']);
    expectProblem(await s.http.call('/v1/audit-events?client_id=a%00b', { token: auditor.token }), 400, 'validation_failed');
  });

  it('a NUL in an OAuth form is an unknown client or token, never a 500', async () => {
    const token = await s.http.call('/oauth/token', {
      method: 'POST',
      headers: form,
      body: 'client_id=cli_%00&grant_type=client_credentials',
    });
    expect([token.status, token.body.error]).toEqual([401, 'invalid_client']);
    const svc = await s.newClient('acme', ['accounts:read']);
    const auth = { ...form, authorization: basic(svc.clientId, svc.secret) };
    const introspected = await s.http.call('/oauth/introspect', { method: 'POST', headers: auth, body: 'token=abc%00def' });
    expect([introspected.status, introspected.body]).toEqual([200, { active: false }]);
    expect((await s.http.call('/oauth/revoke', { method: 'POST', headers: auth, body: 'token=abc%00def' })).status).toBe(200);
  });

  it('a date-time the schema admits but no clock can place (a leap second) is refused, not ignored', async () => {
    const auditor = await s.newClient('acme', ['audit:read']);
    for (const p of ['/v1/audit-events?from=2026-12-31T23:59:60Z', '/v1/audit-events/export?to=2026-12-31T23:59:60Z']) {
      expectProblem(await s.http.call(p, { token: auditor.token }), 400, 'validation_failed');
    }
  });

  it('JSON must be UTF-8: another charset is 415, invalid bytes are 400; nothing is stored', async () => {
    const latin1 = await rawCall(s, '/v1/customers', {
      method: 'POST',
      headers: { authorization: `Bearer ${acme.token}`, 'content-type': 'application/json; charset=iso-8859-1' },
      body: Buffer.from('{"full_name":"Jos\xe9","email":"jose@example.com"}', 'latin1'),
    });
    expectProblem(latin1, 415, 'unsupported_media_type');
    const broken = await rawCall(s, '/v1/customers', {
      method: 'POST',
      headers: { authorization: `Bearer ${acme.token}`, 'content-type': 'application/json' },
      body: Buffer.concat([Buffer.from('{"full_name":"Jos'), Buffer.from([0xff, 0xfe]), Buffer.from('","email":"jose@example.com"}')]),
    });
    expectProblem(broken, 400, 'invalid_request');
    const utf8 = await rawCall(s, '/v1/customers', {
      method: 'POST',
      headers: { authorization: `Bearer ${acme.token}`, 'content-type': 'application/json; charset=UTF-8' },
      body: Buffer.from('{"full_name":"José","email":"jose@example.com"}', 'utf8'),
    });
    expect([utf8.status, utf8.body.full_name]).toEqual([201, 'José']);
    const rows = await s.database.db.query<{ n: bigint }>('SELECT COUNT(*) AS n FROM customers');
    expect(Number(rows[0]!.n)).toBe(2); // Nul Test and the UTF-8 José
  });
});

describe('errors before the gateway, and headers everywhere', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('sqlite', { VAULTGATE_CONFIG: writeConfig('rate_limits:\n  ip: { limit: 1000, window_seconds: 3600 }\n') });
  });
  afterAll(async () => s?.close());

  // @control OWASP-API8
  it('router errors answer in problem+json with the request id', async () => {
    const client = await s.newClient('acme', ['customers:read']);
    expectProblem(await s.http.call('/v1/customers/%zz', { token: client.token }), 400, 'invalid_request');
    expectProblem(await s.http.call(`/v1/customers/cus_${'a'.repeat(200)}`, { token: client.token }), 404, 'not_found');
  });

  it('a method the path does not have: 405 with Allow; a path that does not exist: 404', async () => {
    const put = await s.http.call('/v1/customers', { method: 'PUT', body: {} });
    expectProblem(put, 405, 'method_not_allowed');
    expect(put.headers.allow).toBe('GET, HEAD, POST');
    const del = await s.http.call(`/v1/accounts/acc_${'0'.repeat(26)}`, { method: 'DELETE' });
    expectProblem(del, 405, 'method_not_allowed');
    expect(del.headers.allow).toBe('GET, HEAD');
    expectProblem(await s.http.call('/v1/nothing-here'), 404, 'not_found');
  });

  it('HTTP/1.1 headers over 16 KiB: 431 in problem+json from the parser', async () => {
    const res = await rawCall(s, '/healthz', { headers: { 'x-big': 'a'.repeat(20_000) } });
    expectProblem(res, 431, 'headers_too_large');
  });

  it('HTTP/2 header lists are held to the same 16 KiB', async () => {
    // Node's own HTTP/2 client obeys the server's advertised limit and would not even send the
    // request; curl sends it, as an attacker's client would.
    const curl = async (bytes: number) => {
      const { stdout } = await execFileAsync('curl', [
        '-s',
        '--http2',
        '--cacert',
        path.join(s.dataDir, 'dev-tls-cert.pem'),
        '-H',
        `X-Big: ${'a'.repeat(bytes)}`,
        '-w',
        '\n%{http_code} %{http_version}',
        `${s.url}/healthz`,
      ]);
      const lines = stdout.trim().split('\n');
      return { statusLine: lines.pop(), body: JSON.parse(lines.join('\n')) };
    };
    expect((await curl(1000)).statusLine).toBe('200 2');
    const big = await curl(20_000);
    expect([big.statusLine, big.body.code]).toEqual(['431 2', 'headers_too_large']);
    // The log line of an HTTP/2 request names the caller, though its stream is gone when it is written.
    const line = s.logs.map((l) => JSON.parse(l)).find((l) => l.req_id === big.body.request_id);
    expect(line).toMatchObject({ status: 431, ip: '127.0.0.1' });
  });

  it('the OAuth error page has a strict CSP and no-store', async () => {
    const res = await s.http.call('/oauth/authorize?client_id=bogus&response_type=code');
    expect(res.status).toBe(400);
    expect(res.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('the alert stream carries the RateLimit headers', async () => {
    const soc = await s.newClient('platform', ['alerts:read']);
    const stream = await openStream(s, soc.token);
    try {
      expect(stream.status).toBe(200);
      expect(stream.headers['ratelimit-policy']).toMatch(/"ip";q=1000;w=3600/);
      expect(stream.headers.ratelimit).toMatch(/"default\.read";r=\d+/);
    } finally {
      stream.close();
    }
  });
});

describe('the per-IP limit and refusals of the traffic steps', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('sqlite', { VAULTGATE_CONFIG: writeConfig('rate_limits:\n  ip: { limit: 3, window_seconds: 3600 }\n') });
  });
  afterAll(async () => s?.close());

  it('a 429 of the per-IP limit carries the request id and the security headers', async () => {
    for (let i = 0; i < 3; i++) await s.http.call('/openapi.json');
    expectProblem(await s.http.call('/openapi.json'), 429, 'rate_limited');
  });
});

describe('behind a TLS-terminating proxy', () => {
  let s: TestServer;
  let port: number;
  beforeAll(async () => {
    s = await startTestServer('sqlite', {
      VAULTGATE_INSECURE_HTTP: '1',
      VAULTGATE_CONFIG: writeConfig('rate_limits:\n  ip: { limit: 3, window_seconds: 3600 }\n'),
    });
    port = Number(new URL(s.url).port);
  });
  afterAll(async () => s?.close());

  const viaProxy = (xff: string) =>
    new Promise<{ status: number }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path: '/openapi.json', headers: { 'x-forwarded-for': xff, 'x-forwarded-proto': 'https' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  it('only the entry the proxy appended is the caller: forged entries before it change nothing', async () => {
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await viaProxy(`10.0.0.${i}, 198.51.100.7`)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // Another caller (as the proxy reports it) has its own budget.
    expect((await viaProxy('10.0.0.1, 198.51.100.8')).status).toBe(200);
    const lines = s.logs.filter((l) => l.includes('"route":"/openapi.json"'));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).not.toMatch(/"ip":"10\.0\.0\./);
  });
});
