// Limits shared through Redis: two vaultgate processes enforce one combined limit; a Redis outage
// fails money routes closed (503), keeps reads served on the per-node fallback, crashes nothing,
// and the shared limits come back by themselves when Redis does.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { createClient } from '../e2e/http.js';
import { describeRedis, redisUrl, uniqueRedisPrefix } from '../support/databases.js';
import { count, deposit, freePort, openAccount, startRedis } from './support.js';
import { writeConfig } from './support.js';

const silent = () => createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));

describeRedis('two processes sharing one Redis', () => {
  const L = 20;
  let a: TestServer;
  let b: RunningServer;
  let bHttp: ReturnType<typeof createClient>;

  beforeAll(async () => {
    const config = writeConfig(`
rate_limits:
  redis_key_prefix: "${uniqueRedisPrefix()}"
  ip: { limit: 10000, window_seconds: 3600 }
  tiers:
    default:
      read: { limit: ${L}, window_seconds: 3600 }
`);
    a = await startTestServer('sqlite', { REDIS_URL: redisUrl(), VAULTGATE_CONFIG: config });
    // The second node: same database, same data directory (keys), same Redis, its own port.
    b = await startServer(loadConfig(a.env), { logger: silent() });
    bHttp = createClient(b.url, readFileSync(path.join(a.dataDir, 'dev-tls-cert.pem')));
  });
  afterAll(async () => {
    bHttp?.close();
    await b?.close();
    await a?.close();
  });

  it('lets through a combined number equal to the limit', async () => {
    const client = await a.newClient('acme', ['accounts:read']);
    const tokB = await bHttp.call('/oauth/token', {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=accounts:read',
    });
    expect(tokB.status).toBe(200);
    const results = await Promise.all([
      ...Array.from({ length: 25 }, () => a.http.call('/v1/accounts', { token: client.token })),
      ...Array.from({ length: 25 }, () => bHttp.call('/v1/accounts', { token: tokB.body.access_token })),
    ]);
    const through = count(results, 200);
    expect(Math.abs(through - L)).toBeLessThanOrEqual(1);
    expect(count(results, 429)).toBe(50 - through);
    // Both nodes took part, so the limit really was shared and not per node.
    expect(count(results.slice(0, 25), 200)).toBeGreaterThan(0);
    expect(count(results.slice(25), 200)).toBeGreaterThan(0);
  });
});

describeRedis('Redis stopped in the middle of a run', () => {
  const MONEY = 5;
  let s: TestServer;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    s = await startTestServer('sqlite', {
      REDIS_URL: redis.url,
      VAULTGATE_CONFIG: writeConfig(`
rate_limits:
  tiers:
    default:
      money: { limit: ${MONEY}, window_seconds: 3600 }
`),
    });
  });
  afterAll(async () => {
    await s?.close();
    await redis?.stop();
  });

  it('fails money closed, serves reads, records one alert, and recovers', async () => {
    const client = await s.newClient('acme');
    const account = await openAccount(s, client.token);
    expect((await deposit(s, client.token, account, 100)).status).toBe(201);

    const unavailable = () => s.logs.filter((l) => l.includes('"event":"ratelimit.redis_unavailable"')).length;
    const before = unavailable();
    await redis.stop();
    const during = await Promise.all(Array.from({ length: 5 }, () => deposit(s, client.token, account, 100)));
    for (const r of during) {
      expect(r.status).toBe(503);
      expect(r.body.code).toBe('service_unavailable');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    const reads = await Promise.all(Array.from({ length: 5 }, () => s.http.call(`/v1/accounts/${account}`, { token: client.token })));
    expect(reads.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(reads[0]?.headers['ratelimit-policy']).toContain('"default.read"');
    expect((await s.http.call('/healthz')).status).toBe(200);
    // Alert-worthy, once per outage, not once per request: one audit event, one alert.
    expect(unavailable() - before).toBe(1);
    const soc = await s.newClient('platform', ['alerts:read']);
    await expect
      .poll(
        async () =>
          (await s.http.call('/v1/alerts', { token: soc.token })).body.data.filter(
            (a: { rule: string }) => a.rule === 'shared_store_unavailable',
          ),
        { timeout: 5000 },
      )
      .toEqual([expect.objectContaining({ severity: 'high', subject: 'redis', tenant_id: null, count: 1 })]);

    redis = await startRedis(port);
    let first;
    do {
      await new Promise((r) => setTimeout(r, 100));
      first = await deposit(s, client.token, account, 100);
    } while (first.status === 503);
    expect(first.status).toBe(201);
    expect(s.logs.some((l) => l.includes('"event":"ratelimit.redis_recovered"'))).toBe(true);
    // The shared limit is enforced again (the fresh Redis counts from zero): MONEY in all.
    const after = await Promise.all(Array.from({ length: 8 }, () => deposit(s, client.token, account, 100)));
    expect(count(after, 201)).toBe(MONEY - 1);
    expect(count(after, 429)).toBe(8 - (MONEY - 1));
  });
});
