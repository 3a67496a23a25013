// Acknowledging an alert (POST /v1/alerts/{id}/acknowledge, scope alerts:write) on both engines:
// it is closed with who and when, audited; a repeat of its rule and subject opens a new alert;
// another tenant's alert is not found, a closed one is a conflict, alerts:read alone is refused.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeEngines, type Engine } from '../support/databases.js';
import { eventually } from '../support/eventually.js';

describeEngines('alert acknowledgement', (engine: Engine) => {
  let s: TestServer;
  let acme: Awaited<ReturnType<TestServer['newClient']>>;
  let reader: Awaited<ReturnType<TestServer['newClient']>>;
  let globex: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    s = await startTestServer(engine);
    acme = await s.newClient('acme', ['alerts:read', 'alerts:write', 'audit:read']);
    reader = await s.newClient('acme', ['alerts:read']);
    globex = await s.newClient('globex', ['alerts:read', 'alerts:write']);
  });
  afterAll(async () => s?.close());

  const raise = (subject: string) =>
    s.server.services.monitoring.alerts.raise({
      rule: 'object_scanning',
      subject,
      tenantId: acme.tenantId,
      severity: 'high',
      summary: 'test alert',
      evidence: { request_ids: ['req-1'] },
    });
  const ack = (token: string, id: string) => s.http.call(`/v1/alerts/${id}/acknowledge`, { token, body: {} });

  it('closes the alert with who and when, audited; a repeat opens a new one', async () => {
    const alert = await raise('client:cli_ack_1');
    expect((await ack(reader.token, alert.id)).body.code).toBe('insufficient_scope');
    expect((await ack(globex.token, alert.id)).status).toBe(404);

    const done = await ack(acme.token, alert.id);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id: alert.id, status: 'closed', acknowledged_by: acme.clientId });
    expect(Date.parse(done.body.acknowledged_at as string)).toBeGreaterThan(0);
    const again = await ack(acme.token, alert.id);
    expect([again.status, again.body.code]).toEqual([409, 'conflict']);

    const listed = await s.http.call('/v1/alerts?limit=100', { token: reader.token });
    expect(listed.body.data.find((a: { id: string }) => a.id === alert.id)).toMatchObject({
      status: 'closed',
      acknowledged_by: acme.clientId,
    });
    const repeat = await raise('client:cli_ack_1');
    expect(repeat.id).not.toBe(alert.id);
    expect(repeat.status).toBe('open');

    await eventually(async () => {
      const events = await s.http.call('/v1/audit-events?action=alert.acknowledge', { token: acme.token });
      return (events.body.data as { target: string; actor: { client_id: string } }[]).some(
        (e) => e.target === alert.id && e.actor.client_id === acme.clientId,
      );
    }, 'the acknowledgement in the audit log');
  });

  it('an unknown or malformed alert id', async () => {
    expect((await ack(acme.token, 'alr_00000000000000000000000000')).status).toBe(404);
    expect((await ack(acme.token, 'nope')).body.code).toBe('validation_failed');
  });
});
