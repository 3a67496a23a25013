// Usage analytics end to end, on both engines: the real server counts every answer by route
// (operation id), client and status class, flushes once a second, and GET /v1/admin/usage and
// `vaultgate usage` report exact counts; a tenant sees only its own traffic, the platform all.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { runCli } from '../support/cli.js';
import { describeEngines, type Engine } from '../support/databases.js';

const MISSING = 'acc_00000000000000000000000000';

describeEngines('usage analytics', (engine: Engine) => {
  let s: TestServer;
  let acme: Awaited<ReturnType<TestServer['newClient']>>;
  let acmeAnalyst: Awaited<ReturnType<TestServer['newClient']>>;
  let globexAnalyst: Awaited<ReturnType<TestServer['newClient']>>;
  let platform: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    s = await startTestServer(engine);
    acme = await s.newClient('acme', ['accounts:read']);
    acmeAnalyst = await s.newClient('acme', ['analytics:read']);
    globexAnalyst = await s.newClient('globex', ['analytics:read']);
    platform = await s.newClient('platform', ['analytics:read']);
    for (let i = 0; i < 3; i++) expect((await s.http.call(`/v1/accounts/${MISSING}`, { token: acme.token })).status).toBe(404);
    expect((await s.http.call('/v1/accounts', { token: acme.token })).status).toBe(200);
  });
  afterAll(async () => {
    await s?.close();
  });

  /** The report, once the node's flush (once a second) has written what the test sent. */
  async function report(token: string, query: string, until: (body: any) => boolean) {
    for (let i = 0; i < 50; i++) {
      const res = await s.http.call(`/v1/admin/usage?${query}`, { token });
      if (res.status !== 200 || until(res.body)) return res;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('usage never appeared');
  }
  const group = (body: any, route: string, status: string) =>
    body.groups.find((g: any) => g.client_id === acme.clientId && g.route === route && g.status_class === status);

  it('counts by operation id, client and status class, exactly', async () => {
    const res = await report(acmeAnalyst.token, 'group_by=client,route,status', (b) => group(b, 'account.list', '2xx') !== undefined);
    expect(res.status).toBe(200);
    expect(res.body.bucket_seconds).toBe(60);
    const notFound = group(res.body, 'account.read', '4xx');
    expect({ requests: notFound.requests, rate_limited: notFound.rate_limited, upstream: notFound.upstream }).toEqual({
      requests: 3,
      rate_limited: 0,
      upstream: '',
    });
    expect(notFound.latency_ms.p99).toBeGreaterThan(0);
    expect(notFound.bytes_out).toBeGreaterThan(0);
    expect(group(res.body, 'account.list', '2xx').requests).toBe(1);
    // Never the raw URL (an object id) as a route.
    expect(JSON.stringify(res.body)).not.toContain(MISSING);
  });

  it('a tenant sees only its own traffic; the platform tenant sees every tenant', async () => {
    const globex = await report(globexAnalyst.token, 'group_by=client', () => true);
    expect(globex.body.groups.some((g: any) => g.client_id === acme.clientId)).toBe(false);
    const all = await report(platform.token, 'group_by=client', (b) => b.groups.some((g: any) => g.client_id === acme.clientId));
    expect(all.body.groups.find((g: any) => g.client_id === acme.clientId).requests).toBeGreaterThanOrEqual(4);
    expect(all.body.groups.find((g: any) => g.client_id === acme.clientId).route).toBeNull();
  });

  it('refusals: no analytics:read, a bad group_by, a window the wrong way round or over 31 days', async () => {
    const noScope = await s.http.call('/v1/admin/usage', { token: acme.token });
    expect({ status: noScope.status, code: noScope.body.code }).toEqual({ status: 403, code: 'insufficient_scope' });
    const bad = await s.http.call('/v1/admin/usage?group_by=client,tenant', { token: acmeAnalyst.token });
    expect({ status: bad.status, code: bad.body.code }).toEqual({ status: 400, code: 'validation_failed' });
    const twice = await s.http.call('/v1/admin/usage?group_by=client,client', { token: acmeAnalyst.token });
    expect({ status: twice.status, code: twice.body.code }).toEqual({ status: 400, code: 'validation_failed' });
    const backwards = await s.http.call('/v1/admin/usage?from=2026-02-02T00:00:00Z&to=2026-02-01T00:00:00Z', { token: acmeAnalyst.token });
    expect({ status: backwards.status, code: backwards.body.code }).toEqual({ status: 400, code: 'validation_failed' });
    const wide = await s.http.call('/v1/admin/usage?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z', { token: acmeAnalyst.token });
    expect({ status: wide.status, code: wide.body.code }).toEqual({ status: 400, code: 'validation_failed' });
    const unknown = await s.http.call('/v1/admin/usage?tenant=acme', { token: acmeAnalyst.token });
    expect({ status: unknown.status, code: unknown.body.code }).toEqual({ status: 400, code: 'validation_failed' });
  });

  it('vaultgate usage prints the same counts, and one line for a bad option', async () => {
    await report(acmeAnalyst.token, 'group_by=client,route,status', (b) => group(b, 'account.list', '2xx') !== undefined);
    const json = await runCli(['usage', '--since', '1h', '--group-by', 'client,route,status', '--json'], s.env);
    expect(json.code).toBe(0);
    const body = JSON.parse(json.stdout);
    expect(group(body, 'account.read', '4xx').requests).toBe(3);
    const human = await runCli(['usage', '--group-by', 'route'], s.env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/account\.read {2}requests=3 /);
    const since = await runCli(['usage', '--since', '5x'], s.env);
    expect({ code: since.code, stderr: since.stderr }).toEqual({
      code: 2,
      stderr: 'vaultgate: --since must be a duration such as 30m, 1h or 7d\n',
    });
    const groupBy = await runCli(['usage', '--group-by', 'tenant'], s.env);
    expect({ code: groupBy.code, stderr: groupBy.stderr }).toEqual({
      code: 2,
      stderr: 'vaultgate: --group-by: expected a comma-separated subset of client, route, status\n',
    });
  });
});
