// The token endpoint's brute-force guard through the real server, and the reusable guard itself
// (in memory and on Redis): growing lockouts after the free attempts, generic answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/logger.js';
import { createBruteForceGuard } from '../../src/gateway/rate-limit/brute-force.js';
import { createRedisHealth } from '../../src/gateway/rate-limit/redis-health.js';
import { createNoopAudit } from '../../src/audit/types.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeRedis, redisUrl, uniqueRedisPrefix } from '../support/databases.js';
import { fromAddress } from '../users/support.js';
import { writeConfig } from './support.js';

const policy = { freeAttempts: 3, baseLockoutMs: 60_000, maxLockoutMs: 600_000, windowMs: 600_000 };

describe('token endpoint brute force', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('sqlite', {
      VAULTGATE_CONFIG: writeConfig(
        'rate_limits:\n  brute_force: { free_attempts: 3, base_lockout_seconds: 60, max_lockout_seconds: 600 }\n',
      ),
    });
  });
  afterAll(async () => s?.close());

  // @control OWASP-API2, PCI-8.3.4
  it('locks the client id and the IP after repeated failures, with a generic answer', async () => {
    const client = await s.newClient('acme', ['accounts:read']);
    for (let i = 0; i < 4; i++) {
      const r = await s.token(client.clientId, 'wrong-secret', 'accounts:read');
      expect(r.status).toBe(401);
    }
    // Locked now: even the right secret is refused, with the same answer as an unknown client.
    const right = await s.token(client.clientId, client.secret, 'accounts:read');
    const unknown = await s.token('cli_doesnotexist', 'whatever', 'accounts:read');
    for (const r of [right, unknown]) {
      expect(r.status).toBe(429);
      expect(r.body.code).toBe('rate_limited');
      expect(r.body.detail).toBe('Too many failed attempts; retry later');
    }
    const raw = await s.http.call('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(Number(raw.headers['retry-after'])).toBeGreaterThan(50);
    // Lockouts are logged without the client id.
    const lockLines = s.logs.filter((l) => l.includes('"event":"ratelimit.lockout"'));
    expect(lockLines.length).toBeGreaterThanOrEqual(2);
    for (const l of lockLines) expect(l).not.toContain(client.clientId);
  });
});

describe('a client-id lockout never refuses the right secret (client ids are not secret)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('sqlite', {
      VAULTGATE_CONFIG: writeConfig(
        'rate_limits:\n  brute_force: { free_attempts: 3, base_lockout_seconds: 60, max_lockout_seconds: 600 }\n',
      ),
    });
  });
  afterAll(async () => s?.close());

  it('wrong secrets from anywhere stay locked out; the right one, from another address, gets its token', async () => {
    const client = await s.newClient('acme', ['accounts:read']);
    const ask = (from: TestServer, secret: string) =>
      from.http.call('/oauth/token', {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${client.clientId}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials&scope=accounts:read',
      });
    const attacker = fromAddress(s, s.url, '127.0.0.2');
    for (let i = 0; i < 4; i++) expect((await ask(attacker, `wrong-${i}`)).status).toBe(401);
    expect((await ask(attacker, 'wrong-again')).status).toBe(429);
    const elsewhere = fromAddress(s, s.url, '127.0.0.3');
    const wrong = await ask(elsewhere, 'wrong-elsewhere');
    expect([wrong.status, wrong.body.code]).toEqual([429, 'rate_limited']);
    const right = await ask(elsewhere, client.secret);
    expect(right.status).toBe(200);
    // The attacker's own address stays locked, right secret or not.
    expect((await ask(attacker, client.secret)).status).toBe(429);
  });
});

function guardSuite(name: string, make: () => ReturnType<typeof createBruteForceGuard>) {
  it(`${name}: free attempts, then growing lockouts; success clears the counter`, async () => {
    const g = make();
    const key = `acct:${Math.random()}`;
    for (let i = 0; i < 3; i++) expect(await g.fail([key])).toEqual([]);
    expect(await g.check([key])).toBe(0);
    const first = await g.fail([key]);
    expect(first).toEqual([{ key, failures: 4, lockMs: 60_000 }]);
    expect(await g.check([key, 'other'])).toBeGreaterThan(50_000);
    const second = await g.fail([key]);
    expect(second[0]?.lockMs).toBe(120_000);
    const other = `acct:${Math.random()}`;
    await g.fail([other]);
    await g.succeed([other]);
    for (let i = 0; i < 3; i++) expect(await g.fail([other])).toEqual([]);
  });
}

describe('brute-force guard', () => {
  guardSuite('memory', () => createBruteForceGuard(policy));
});

describeRedis('brute-force guard on Redis', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(redisUrl());
  });
  afterAll(async () => {
    await redis.quit();
  });
  guardSuite('redis', () =>
    createBruteForceGuard(policy, {
      redis,
      health: createRedisHealth(redis, { audit: createNoopAudit(), logger: createLogger('silent') }),
      prefix: uniqueRedisPrefix(),
    }),
  );
});
