// Per-client and per-IP limits through the real server: a burst of N against a limit of L lets
// exactly L through; the rest get 429 rate_limited with Retry-After and the RateLimit headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { count, writeConfig } from './support.js';

const L = 10;
const N = 30;

describe('rate limits (in memory)', () => {
  let s: TestServer;
  let client: Awaited<ReturnType<TestServer['newClient']>>;
  let partner: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    s = await startTestServer('sqlite', {
      VAULTGATE_CONFIG: writeConfig(`
rate_limits:
  ip: { limit: 1000, window_seconds: 3600 }
  tiers:
    default:
      read: { limit: ${L}, window_seconds: 3600 }
    partner:
      read: { limit: ${2 * L}, window_seconds: 3600 }
`),
    });
    client = await s.newClient('acme');
    partner = await s.newClient('bigbank');
  });
  afterAll(async () => s?.close());

  // @control OWASP-API4
  it(`lets exactly ${L} of a burst of ${N} through and answers the rest 429 with headers`, async () => {
    const results = await Promise.all(Array.from({ length: N }, () => s.http.call('/v1/accounts', { token: client.token })));
    expect(count(results, 200)).toBe(L);
    expect(count(results, 429)).toBe(N - L);
    for (const r of results) {
      expect(r.headers['ratelimit-policy']).toBe(`"ip";q=1000;w=3600, "default.read";q=${L};w=3600`);
      expect(r.headers.ratelimit).toMatch(/^"ip";r=\d+;t=\d+, "default\.read";r=\d+;t=\d+$/);
    }
    const limited = results.filter((r) => r.status === 429);
    for (const r of limited) {
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(r.body.code).toBe('rate_limited');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(r.headers.ratelimit).toMatch(/"default\.read";r=0;/);
    }
    // Other classes and other clients have their own budgets.
    const write = await s.http.call('/v1/customers', { token: client.token, body: { full_name: 'A B', email: 'ab@example.com' } });
    expect(write.status).toBe(201);
    expect(write.headers['ratelimit-policy']).toContain('"default.write";q=600;w=60');
  });

  it('reads the tier of a client from the config', async () => {
    await s.close();
    const file = writeConfig(`
rate_limits:
  ip: { limit: 1000, window_seconds: 3600 }
  tiers:
    partner:
      read: { limit: ${2 * L}, window_seconds: 3600 }
`);
    // Tier assignment needs the client id, known only now: restart on the same data and database.
    s = await startTestServer('sqlite', { VAULTGATE_CONFIG: file });
    partner = await s.newClient('bigbank');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      file,
      `
rate_limits:
  ip: { limit: 1000, window_seconds: 3600 }
  tiers:
    partner:
      read: { limit: ${2 * L}, window_seconds: 3600 }
  clients:
    ${partner.clientId}: partner
`,
    );
    const { startServer } = await import('../../src/server.js');
    const { createLogger } = await import('../../src/logger.js');
    const { Writable } = await import('node:stream');
    await s.server.close();
    const second = await startServer(loadConfig({ ...s.env, VAULTGATE_CONFIG: file }), {
      logger: createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() })),
    });
    const { createClient } = await import('../e2e/http.js');
    const { readFileSync } = await import('node:fs');
    const http = createClient(second.url, readFileSync(`${s.dataDir}/dev-tls-cert.pem`));
    try {
      const tok = await http.call('/oauth/token', {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(partner.clientId)}:${encodeURIComponent(partner.secret)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials&scope=accounts:read',
      });
      expect(tok.status).toBe(200);
      const results = await Promise.all(Array.from({ length: N }, () => http.call('/v1/accounts', { token: tok.body.access_token })));
      expect(count(results, 200)).toBe(2 * L);
      expect(count(results, 429)).toBe(N - 2 * L);
      expect(results[0]?.headers['ratelimit-policy']).toContain(`"partner.read";q=${2 * L};w=3600`);
    } finally {
      http.close();
      await second.close();
    }
  });

  // @control OWASP-API4
  it('limits per IP before authentication, /oauth/* included', async () => {
    const ipOnly = await startTestServer('sqlite', {
      VAULTGATE_CONFIG: writeConfig('rate_limits:\n  ip: { limit: 5, window_seconds: 3600 }\n'),
    });
    try {
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => ipOnly.http.call(i % 2 ? '/v1/accounts' : '/.well-known/openid-configuration')),
      );
      expect(count(results, 429)).toBe(7);
      expect(results.filter((r) => r.status !== 429).every((r) => r.status === 401 || r.status === 200)).toBe(true);
      for (const r of results) expect(r.headers['ratelimit-policy']).toBe('"ip";q=5;w=3600');
      // Health checks are exempt: a load balancer must always get an answer.
      expect((await ipOnly.http.call('/healthz')).status).toBe(200);
    } finally {
      await ipOnly.close();
    }
  });
});

describe('rate_limits configuration', () => {
  it('refuses unknown keys with one line naming the key', () => {
    const bad = writeConfig('rate_limits:\n  tiers:\n    default:\n      reads: { limit: 5, window_seconds: 60 }\n');
    expect(() => loadConfig({ VAULTGATE_CONFIG: bad })).toThrow(/^VAULTGATE_CONFIG: rate_limits\.tiers\.default\.reads: unknown key/);
    const tier = writeConfig('rate_limits:\n  clients:\n    cli_x: gold\n');
    expect(() => loadConfig({ VAULTGATE_CONFIG: tier })).toThrow(/rate_limits\.clients\.cli_x: names an unknown tier/);
    const velocity = writeConfig('rate_limits:\n  velocity:\n    - { scope: account, max_amount_per_week: 5 }\n');
    expect(() => loadConfig({ VAULTGATE_CONFIG: velocity })).toThrow(/rate_limits\.velocity\[0\]\.max_amount_per_week: unknown key/);
  });
});
