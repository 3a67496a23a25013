// GET /v1/audit-events/verification (for the console's audit page): when the whole chain last
// verified intact; its size only for the platform tenant (the chain holds every tenant's events).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeEngines, type Engine } from '../support/databases.js';

describeEngines('the audit chain verification status', (engine: Engine) => {
  let s: TestServer;
  let platform: Awaited<ReturnType<TestServer['newClient']>>;
  let tenant: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    s = await startTestServer(engine);
    platform = await s.newClient('platform', ['audit:read']);
    tenant = await s.newClient('acme', ['audit:read', 'customers:read']);
  });
  afterAll(async () => s?.close());

  it('says when the chain last verified intact', async () => {
    const before = Date.now();
    const result = await s.server.services.audit.verify();
    expect(result.ok).toBe(true);
    const seen = await s.http.call('/v1/audit-events/verification', { token: platform.token });
    expect(seen.status).toBe(200);
    expect(Date.parse(seen.body.last_verified_at as string)).toBeGreaterThanOrEqual(before);
    expect(seen.body.events).toBe(result.ok ? result.events : -1);
    const theirs = await s.http.call('/v1/audit-events/verification', { token: tenant.token });
    expect(theirs.body).toEqual({ last_verified_at: seen.body.last_verified_at, events: null, head_seq: null });
  });
});
