// Two vaultgate nodes on one PostgreSQL and one Redis in front of one upstream: the client's limit
// for a proxied route is one limit across both nodes, and the usage analytics of both add up.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { startServer, type RunningServer } from '../../../src/server.js';
import { startTestServer, type TestServer } from '../../e2e/harness.js';
import { createClient } from '../../e2e/http.js';
import { describeRedis, redisUrl, uniqueRedisPrefix } from '../../support/databases.js';
import { createLogger } from '../../../src/logger.js';
import { freePort } from '../../support/ports.js';

const LIMIT = 6;

describeRedis('gateway: two nodes share one limit and one usage report', () => {
  let upstream: Server;
  let hits = 0;

  let dir: string;
  let a: TestServer;
  let b: RunningServer;
  let bHttp: ReturnType<typeof createClient>;

  beforeAll(async () => {
    upstream = createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-gateway-2n-'));
    const config = path.join(dir, 'vaultgate.yaml');
    writeFileSync(
      config,
      [
        'rate_limits:',
        `  redis_key_prefix: "${uniqueRedisPrefix()}"`,
        '  tiers:',
        `    default: { read: { limit: ${LIMIT}, window_seconds: 3600 } }`,
        'gateway:',
        '  upstreams:',
        `    kyc: { url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }`,
        '  routes:',
        '    - { prefix: /kyc/, upstream: kyc, strip_prefix: true, methods: [GET], permission: "kyc:read", rate_limit: read }',
      ].join('\n'),
    );
    a = await startTestServer('postgres', { REDIS_URL: redisUrl(), VAULTGATE_CONFIG: config });
    // As behind one load balancer: the same public URL (issuer), database, keys and Redis; its own port.
    const port = await freePort();
    b = await startServer(loadConfig({ ...a.env, VAULTGATE_PUBLIC_URL: a.url, VAULTGATE_PORT: String(port) }), {
      logger: createLogger('silent'),
    });
    bHttp = createClient(`https://127.0.0.1:${port}`);
    expect(port).not.toBe(Number(new URL(a.url).port));
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it(`lets exactly ${LIMIT} of a burst spread over both nodes through, and the report of either node adds both up`, async () => {
    const caller = await a.newClient('acme', ['kyc:read']);
    const analyst = await a.newClient('acme', ['analytics:read']);
    const results = await Promise.all(
      Array.from({ length: 2 * LIMIT }, (_, i) => (i % 2 === 0 ? a.http : bHttp).call('/kyc/v1/x', { token: caller.token })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(LIMIT);
    expect(results.filter((r) => r.status === 429).map((r) => r.body.code)).toEqual(Array(LIMIT).fill('rate_limited'));
    expect(hits).toBe(LIMIT);

    // Each node flushes its own counts; the report (from node B) adds both.
    let groups: any[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await bHttp.call('/v1/admin/usage?group_by=client,route,status', { token: analyst.token });
      groups = (res.body.groups as any[]).filter((g) => g.client_id === caller.clientId);
      const total = groups.reduce((n, g) => n + g.requests, 0);
      if (total === 2 * LIMIT) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const ok = groups.find((g) => g.status_class === '2xx');
    const limited = groups.find((g) => g.status_class === '4xx');
    expect({ route: ok.route, upstream: ok.upstream, requests: ok.requests }).toEqual({
      route: '/kyc/*',
      upstream: 'kyc',
      requests: LIMIT,
    });
    expect({ requests: limited.requests, rate_limited: limited.rate_limited }).toEqual({ requests: LIMIT, rate_limited: LIMIT });
  });
});
