// With REDIS_URL, an alert raised on one node reaches the SSE streams of every node: two real
// app instances share one Redis (their own databases), the scan happens on A, the stream is on B.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeRedis, redisUrl, uniqueRedisPrefix } from '../support/databases.js';
import { openStream } from './support.js';

describeRedis('alert fan-out through Redis', () => {
  let a: TestServer;
  let b: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-fanout-'));
    const config = path.join(dir, 'vaultgate.yaml');
    // Two nodes start in one test process on shared CPUs: a start-up stall must not trip load shedding.
    writeFileSync(
      config,
      `rate_limits:\n  shedding: { max_event_loop_delay_ms: 60000 }\nalerts:\n  redis_channel: "${uniqueRedisPrefix()}alerts"\n  rules:\n    object_scanning: { threshold: 3 }\n`,
    );
    const env = { VAULTGATE_CONFIG: config, REDIS_URL: redisUrl() };
    a = await startTestServer('sqlite', env);
    b = await startTestServer('sqlite', env);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a scan on node A shows on the stream of node B', async () => {
    const scanner = await a.newClient('acme');
    const other = await a.newClient('globex');
    const cus = await a.http.call('/v1/customers', { token: other.token, body: { full_name: 'X Y', email: 'xy@example.com' } });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await a.http.call('/v1/accounts', { token: other.token, body: { customer_id: cus.body.id, currency: 'EUR' } })).body.id);
    const soc = await b.newClient('platform', ['alerts:read']);
    const stream = await openStream(b, soc.token);
    try {
      const t0 = performance.now();
      for (const id of ids) expect((await a.http.call(`/v1/accounts/${id}`, { token: scanner.token })).status).toBe(404);
      const got = await stream.next((x) => x.rule === 'object_scanning' && x.subject === `client:${scanner.clientId}`, 10_000);
      console.log(`[measure] cross-node alert latency via Redis: ${(got.at - t0).toFixed(1)} ms from the first probe`);
      expect(got.alert.id).toMatch(/^alr_/);
    } finally {
      stream.close();
    }
  });
});
