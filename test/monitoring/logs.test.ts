// Structured logs: one line per request with request id, tenant, client, route, status and
// latency; and after a full tour with personal data, tokens and secrets, not one log line holds
// any of those values.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeEngines, type Engine } from '../support/databases.js';
import { openStream, startReceiver, type Receiver } from './support.js';

const WEBHOOK_SECRET = 'whsec_logs_9f8e7d6c5b4a39281706f5e4d3c2b1a0';

describeEngines('logs', (engine: Engine) => {
  let s: TestServer;
  let receiver: Receiver;
  let dir: string;
  beforeAll(async () => {
    receiver = await startReceiver(WEBHOOK_SECRET);
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-logs-'));
    const config = path.join(dir, 'vaultgate.yaml');
    writeFileSync(
      config,
      `alerts:\n  rules:\n    auth_failure_burst: { threshold: 3 }\n  notifiers:\n    - { type: webhook, url: "${receiver.url}", secret: "${WEBHOOK_SECRET}" }\n`,
    );
    s = await startTestServer(engine, { VAULTGATE_CONFIG: config });
  });
  afterAll(async () => {
    await s?.close();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a full tour leaves no secret, token or personal value in any log line', async () => {
    const person = {
      full_name: 'Zelda Quixote-Marchbanks',
      email: 'zelda.quixote@example.org',
      phone: '+447700900123',
      date_of_birth: '1984-02-29',
      national_id: 'QQ123456C',
      address: { line1: '221B Baker Street', city: 'Marylebone', postal_code: 'NW1 6XE', country: 'GB' },
    };
    const acme = await s.newClient('acme');
    const auditor = await s.newClient('platform', ['audit:read', 'alerts:read', 'metrics:read']);
    const admin = JSON.parse(readFileSync(path.join(s.dataDir, 'bootstrap-admin.json'), 'utf8')) as { client_secret: string };
    const cus = await s.http.call('/v1/customers', { token: acme.token, body: person });
    expect(cus.status).toBe(201);
    await s.http.call(`/v1/customers?email=${encodeURIComponent(person.email)}`, { token: acme.token });
    const acc = await s.http.call('/v1/accounts', { token: acme.token, body: { customer_id: cus.body.id, currency: 'EUR' } });
    await s.http.call('/v1/deposits', {
      token: acme.token,
      headers: { 'idempotency-key': 'log-tour-1' },
      body: { account_id: acc.body.id, amount: 500, currency: 'EUR', reference: 'tour' },
    });
    const stream = await openStream(s, auditor.token);
    // Failures on purpose: a wrong secret, a bad token (a burst: raises an alert), a token in the query.
    const wrongSecret = 'definitely-wrong-secret-value-123456';
    await s.token(acme.clientId, wrongSecret, 'customers:read');
    const fakeToken = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJmb3JnZWQifQ.c2lnbmF0dXJlLXRoYXQtaXMtZmFrZQ';
    for (let i = 0; i < 3; i++) await s.http.call('/v1/customers', { token: fakeToken });
    await s.http.call(`/v1/customers?access_token=${acme.token}`);
    await s.http.call('/v1/customers', { token: acme.token, headers: { dpop: 'eyJ0eXAiOiJkcG9wK2p3dCJ9.proof-value-xyz.sig' } });
    await stream.next((a) => a.rule === 'auth_failure_burst', 10_000);
    await receiver.next((b) => b.data?.rule === 'auth_failure_burst', 10_000);
    stream.close();
    await s.http.call(`/v1/customers/${cus.body.id}`, { method: 'DELETE', token: acme.token });
    await s.http.call('/v1/audit-events/export', { token: auditor.token });
    await s.http.call('/metrics', { token: auditor.token });

    // Let the asynchronous lines (audit denials, notifier) land.
    await new Promise((r) => setTimeout(r, 300));
    const secrets = [
      acme.secret,
      acme.token,
      auditor.secret,
      auditor.token,
      admin.client_secret,
      wrongSecret,
      fakeToken,
      WEBHOOK_SECRET,
      'proof-value-xyz',
      person.full_name,
      person.email,
      person.phone,
      person.date_of_birth,
      person.national_id,
      person.address.line1,
      person.address.postal_code,
      'Zelda',
      'Quixote',
      // Parts of tokens too: a log that cut a JWT at a dot would still leak its signature.
      ...[acme.token, auditor.token].flatMap((t) => t.split('.').filter((p) => p.length > 16)),
    ];
    expect(s.logs.length).toBeGreaterThan(10);
    const leaks = s.logs.flatMap((line, i) => secrets.filter((v) => line.includes(v)).map((v) => `line ${i} holds ${v.slice(0, 6)}…`));
    expect(leaks).toEqual([]);
    expect(receiver.deliveries.every((d) => !JSON.stringify(d.body).includes(person.email))).toBe(true);

    // One line per API request, with the fields an operator needs.
    const lines = s.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
    const deposit = lines.find((l) => l.route === '/v1/deposits');
    expect(deposit).toMatchObject({ method: 'POST', status: 201, tenant: acme.tenantId, client: acme.clientId });
    expect(typeof deposit?.req_id).toBe('string');
    expect(typeof deposit?.ms).toBe('number');
    expect(lines.some((l) => l.route === '/v1/alerts/stream' && l.stream === true)).toBe(true);
  });
});
