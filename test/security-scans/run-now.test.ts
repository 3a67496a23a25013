// A self-audit asked for over the API (POST /v1/security/scans, scope scans:run), on both engines,
// also on a node with no `scan:` schedule: 202 and the scan runs in the background; its report is
// then the latest, triggered 'manual'. The platform tenant only; never two at once.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeEngines, type Engine } from '../support/databases.js';

describeEngines('a self-audit run now', (engine: Engine) => {
  let s: TestServer;
  let platform: Awaited<ReturnType<TestServer['newClient']>>;
  let tenant: Awaited<ReturnType<TestServer['newClient']>>;
  let reader: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    s = await startTestServer(engine);
    platform = await s.newClient('platform', ['scans:run', 'audit:read']);
    tenant = await s.newClient('acme', ['scans:run', 'audit:read']);
    reader = await s.newClient('platform', ['audit:read']);
  });
  afterAll(async () => s?.close());

  it('starts in the background and its report becomes the latest', async () => {
    expect((await s.http.call('/v1/security/scans', { token: reader.token, body: {} })).body.code).toBe('insufficient_scope');
    expect((await s.http.call('/v1/security/scans', { token: tenant.token, body: {} })).body.code).toBe('forbidden');

    const started = await s.http.call('/v1/security/scans', { token: platform.token, body: {} });
    expect([started.status, started.body]).toEqual([202, { status: 'started' }]);
    // While it runs, another is refused (it cannot have finished yet: it sends hundreds of requests).
    const again = await s.http.call('/v1/security/scans', { token: platform.token, body: {} });
    expect([again.status, again.body.code]).toEqual([409, 'conflict']);

    // A scan sends up to 2000 requests: on a loaded machine that takes longer than eventually()'s 10 s.
    const latestReport = () => s.http.call('/v1/security/scans/latest', { token: reader.token });
    const deadline = Date.now() + 50_000;
    let latest = await latestReport();
    while (latest.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      latest = await latestReport();
    }
    expect(latest.status).toBe(200);
    expect(latest.body.trigger).toBe('manual');
    expect(latest.body.report.findings).toEqual([]);
  }, 60_000);
});
