// Events and signed webhooks end to end, on both engines (docs/contract.md §9, issue 14): an
// endpoint registered through the API, events written with their change, deliveries POSTed to a
// real receiver on loopback (allowed through allow_private_cidrs) that verifies each signature,
// in order; a receiver that fails first and succeeds later; a rotation signing with both
// secrets; refusals of URLs that are not https, carry credentials or point inward; and after
// three days of failures the endpoint disabled with an audit event and an alert.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDataKeys } from '../../src/crypto/data-keys.js';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { createEventSealer } from '../../src/events/sealer.js';
import { createWebhookEndpoints } from '../../src/webhooks/endpoints.js';
import { verifySignature } from '../../src/webhooks/signature.js';
import { createDeliveryWorker, RETRY_FOR_MS } from '../../src/webhooks/worker.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { createTestDatabase, describeEngines, type Engine } from '../support/databases.js';
import { EVENT_RETENTION_MS, sweepEvents } from '../../src/events/retention.js';
import { eventually } from '../support/eventually.js';
import { writeConfig } from '../traffic/support.js';
import path from 'node:path';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

describeEngines('events and webhooks', (engine: Engine) => {
  let s: TestServer;
  let client: Awaited<ReturnType<TestServer['newClient']>>;
  let receiver: Server;
  let receiverUrl: string;
  const received: Received[] = [];
  /** Answers 500 to this many requests first (a receiver that is down, then back). */
  let failNext = 0;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += String(c)));
      req.on('end', () => {
        if (failNext > 0) {
          failNext--;
          res.writeHead(500).end('down');
          return;
        }
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    s = await startTestServer(engine, {
      VAULTGATE_CONFIG: writeConfig('webhooks:\n  allow_http: true\n  allow_private_cidrs: ["127.0.0.0/8"]\n'),
    });
    client = await s.newClient('acme', [
      'customers:write',
      'accounts:write',
      'accounts:read',
      'ledger:fund',
      'transfers:write',
      'transfers:read',
      'webhooks:manage',
    ]);
  });
  afterAll(async () => {
    await s?.close();
    await new Promise((r) => receiver?.close(r));
  });

  const key = () => ({ 'idempotency-key': `k-${Math.random()}` });
  async function fundedPair(amount: number) {
    const cus = await s.http.call('/v1/customers', {
      token: client.token,
      body: { full_name: 'Ada Lovelace', email: `a${Math.random()}@example.com` },
    });
    const open = async () =>
      (await s.http.call('/v1/accounts', { token: client.token, body: { customer_id: cus.body.id, currency: 'EUR' } })).body.id as string;
    const a = await open();
    const b = await open();
    await s.http.call('/v1/deposits', {
      token: client.token,
      headers: key(),
      body: { account_id: a, amount, currency: 'EUR', reference: 'seed' },
    });
    return { a, b };
  }
  const register = (url: string, events: string[]) => s.http.call('/v1/webhook-endpoints', { token: client.token, body: { url, events } });
  const holdAndVoid = async (a: string, b: string) => {
    const h = await s.http.call('/v1/holds', {
      token: client.token,
      headers: key(),
      body: { source_account_id: a, destination_account_id: b, amount: 10, currency: 'EUR' },
    });
    expect(h.status).toBe(201);
    expect((await s.http.call(`/v1/holds/${h.body.id}/void`, { token: client.token, body: {} })).status).toBe(200);
    return h.body.id as string;
  };

  it('deliveries are signed with the secret shown once, in order, and match GET /v1/events', async () => {
    const created = await register(receiverUrl, ['hold.created', 'hold.voided']);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ url: receiverUrl, events: ['hold.created', 'hold.voided'], status: 'active' });
    const secret = created.body.secret as string;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    // Shown once: never again.
    const read = await s.http.call(`/v1/webhook-endpoints/${created.body.id}`, { token: client.token });
    expect(read.body).not.toHaveProperty('secret');
    expect(JSON.stringify((await s.http.call('/v1/webhook-endpoints', { token: client.token })).body)).not.toContain(secret);

    const { a, b } = await fundedPair(1_000);
    const start = received.length;
    const holdIds = [await holdAndVoid(a, b), await holdAndVoid(a, b)];
    await eventually(() => received.length >= start + 4, 'four deliveries');
    const got = received.slice(start, start + 4);
    const bodies = got.map((r) => JSON.parse(r.body) as { id: string; type: string; data: { id: string; status: string } });
    expect(bodies.map((e) => [e.type, e.data.id])).toEqual([
      ['hold.created', holdIds[0]],
      ['hold.voided', holdIds[0]],
      ['hold.created', holdIds[1]],
      ['hold.voided', holdIds[1]],
    ]);
    for (const r of got) {
      const header = r.headers['vaultgate-signature'] as string;
      expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(verifySignature(header, secret, r.body, Math.floor(Date.now() / 1000))).toBe(true);
      // A tampered body or another secret does not verify.
      expect(verifySignature(header, secret, r.body.replace('"hold', '"Hold'), Math.floor(Date.now() / 1000))).toBe(false);
      expect(verifySignature(header, 'whsec_other', r.body, Math.floor(Date.now() / 1000))).toBe(false);
      expect(r.headers['vaultgate-event-id']).toBe(JSON.parse(r.body).id);
    }
    // The same events through the API.
    const listed = await s.http.call('/v1/events?type=hold.voided', { token: client.token });
    expect(listed.status).toBe(200);
    const ids = listed.body.data.map((e: { id: string }) => e.id);
    expect(ids).toEqual(expect.arrayContaining([bodies[1]!.id, bodies[3]!.id]));
    const one = await s.http.call(`/v1/events/${bodies[0]!.id}`, { token: client.token });
    expect(one.body).toEqual(bodies[0]);
    const history = await s.http.call(`/v1/webhook-endpoints/${created.body.id}/deliveries`, { token: client.token });
    expect(history.body.data.slice(0, 4).map((d: { status: string }) => d.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
    ]);
    // Another tenant sees none of it.
    const globex = await s.newClient('globex', ['webhooks:manage']);
    expect((await s.http.call(`/v1/events/${bodies[0]!.id}`, { token: globex.token })).status).toBe(404);
    expect((await s.http.call(`/v1/webhook-endpoints/${created.body.id}`, { token: globex.token })).status).toBe(404);
    expect((await s.http.call('/v1/events', { token: globex.token })).body.data).toEqual([]);
    expect((await s.http.call(`/v1/webhook-endpoints/${created.body.id}`, { method: 'DELETE', token: client.token })).status).toBe(200);
  });

  it('every kind of change is an event with the API view of its object: accounts, deposits, transfers, reversals, erasure', async () => {
    const created = await register(receiverUrl, [
      'account.created',
      'deposit.posted',
      'transfer.posted',
      'transfer.reversed',
      'customer.erased',
    ]);
    const start = received.length;
    const cus = await s.http.call('/v1/customers', {
      token: client.token,
      body: { full_name: 'Ada Lovelace', email: `e${Math.random()}@example.com` },
    });
    const acc = await s.http.call('/v1/accounts', { token: client.token, body: { customer_id: cus.body.id, currency: 'EUR' } });
    const other = await s.http.call('/v1/accounts', { token: client.token, body: { customer_id: cus.body.id, currency: 'EUR' } });
    const dep = await s.http.call('/v1/deposits', {
      token: client.token,
      headers: key(),
      body: { account_id: acc.body.id, amount: 300, currency: 'EUR', reference: 'seed' },
    });
    const tr = await s.http.call('/v1/transfers', {
      token: client.token,
      headers: key(),
      body: { source_account_id: acc.body.id, destination_account_id: other.body.id, amount: 100, currency: 'EUR' },
    });
    const rev = await s.http.call(`/v1/transfers/${tr.body.id}/reversals`, {
      token: client.token,
      headers: key(),
      body: { reason: 'refund', amount: 40 },
    });
    expect(rev.status).toBe(201);
    const eraser = await s.newClient('acme', ['customers:write']);
    expect((await s.http.call(`/v1/customers/${cus.body.id}`, { method: 'DELETE', token: eraser.token })).status).toBe(200);
    await eventually(() => received.length >= start + 6, 'six deliveries');
    const events = received.slice(start, start + 6).map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });
    expect(events.map((e) => e.type)).toEqual([
      'account.created',
      'account.created',
      'deposit.posted',
      'transfer.posted',
      'transfer.reversed',
      'customer.erased',
    ]);
    // The same views the API answers with.
    expect(events[0]!.data).toEqual(acc.body);
    expect(events[2]!.data).toEqual(dep.body);
    expect(events[3]!.data).toEqual(tr.body);
    expect(events[4]!.data).toEqual(rev.body);
    // Erasure: the id and the fact, no personal data.
    expect(Object.keys(events[5]!.data).sort()).toEqual(['erased_at', 'id', 'status']);
    expect(JSON.stringify(events[5])).not.toContain('Ada');
    await s.http.call(`/v1/webhook-endpoints/${created.body.id}`, { method: 'DELETE', token: client.token });
  });

  it('a receiver that fails first gets the delivery again later; nothing behind it overtakes it', async () => {
    const created = await register(receiverUrl, ['hold.created']);
    const { a, b } = await fundedPair(1_000);
    const start = received.length;
    failNext = 1;
    const first = await s.http.call('/v1/holds', {
      token: client.token,
      headers: key(),
      body: { source_account_id: a, destination_account_id: b, amount: 5, currency: 'EUR' },
    });
    const second = await s.http.call('/v1/holds', {
      token: client.token,
      headers: key(),
      body: { source_account_id: a, destination_account_id: b, amount: 6, currency: 'EUR' },
    });
    // The first retry waits 2.5–5 s (5 s base, jitter).
    await eventually(() => received.length >= start + 2, 'both delivered after the retry');
    const order = received.slice(start).map((r) => (JSON.parse(r.body) as { data: { id: string } }).data.id);
    expect(order).toEqual([first.body.id, second.body.id]);
    const history = await s.http.call(`/v1/webhook-endpoints/${created.body.id}/deliveries`, { token: client.token });
    const oldest = history.body.data.at(-1);
    expect(oldest).toMatchObject({ status: 'succeeded', attempts: 2, last_status: 204 });
    await s.http.call(`/v1/webhook-endpoints/${created.body.id}`, { method: 'DELETE', token: client.token });
  }, 20_000);

  it('after a rotation both secrets sign until the overlap ends', async () => {
    const created = await register(receiverUrl, ['hold.created']);
    const rotated = await s.http.call(`/v1/webhook-endpoints/${created.body.id}/rotate-secret`, { token: client.token, body: {} });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    const { a, b } = await fundedPair(100);
    const start = received.length;
    await s.http.call('/v1/holds', {
      token: client.token,
      headers: key(),
      body: { source_account_id: a, destination_account_id: b, amount: 5, currency: 'EUR' },
    });
    await eventually(() => received.length > start, 'the delivery');
    const r = received[start]!;
    const header = r.headers['vaultgate-signature'] as string;
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    const now = Math.floor(Date.now() / 1000);
    expect(verifySignature(header, rotated.body.secret, r.body, now)).toBe(true);
    expect(verifySignature(header, created.body.secret, r.body, now)).toBe(true);
    await s.http.call(`/v1/webhook-endpoints/${created.body.id}`, { method: 'DELETE', token: client.token });
  });

  it('URLs that are not https (here: not http either), carry credentials, point inward or are malformed are refused, and nothing is stored', async () => {
    const before = (await s.http.call('/v1/webhook-endpoints', { token: client.token })).body.data.length;
    for (const [url, detail] of [
      ['ftp://127.0.0.1/x', 'url: not_https'],
      ['https://user:pw@127.0.0.1/x', 'url: credentials_in_url'],
      ['https://10.0.0.1/x', 'url: address_not_allowed'],
      ['https://169.254.169.254/latest/meta-data', 'url: address_not_allowed'],
      ['https://[::ffff:10.0.0.1]/x', 'url: address_not_allowed'],
      ['not a url', 'url: malformed_url'],
    ] as const) {
      const res = await register(url, ['hold.created']);
      expect([res.status, res.body.code, res.body.detail]).toEqual([422, 'webhook_url_refused', detail]);
    }
    const unknownType = await register(receiverUrl, ['money.vanished']);
    expect([unknownType.status, unknownType.body.code]).toEqual([400, 'validation_failed']);
    expect((await s.http.call('/v1/webhook-endpoints', { token: client.token })).body.data.length).toBe(before);
    const noScope = await s.newClient('acme', ['transfers:read']);
    expect((await s.http.call('/v1/events', { token: noScope.token })).body.code).toBe('insufficient_scope');
  });

  it('three days of failures disable the endpoint, with an audit event and an alert; a manual retry enables it again', async () => {
    // A second node's worker over the same database with a clock of its own and a receiver that is always down.
    const master = loadMasterKey(path.join(s.dataDir, 'master.key'), { create: false });
    const endpoints = createWebhookEndpoints({
      db: s.database.db,
      secrets: createSecretBox(createDataKeys(master, { engine: s.database.db.engine })),
      policy: { allowHttp: true, allowPrivateCidrs: ['127.0.0.0/8'] },
    });
    let clock = Date.now();
    const worker = createDeliveryWorker({
      db: s.database.db,
      sealer: createEventSealer(s.database.db),
      endpoints,
      send: async () => ({ ok: false, status: 503, error: 'HTTP 503' }),
      audit: s.server.services.audit,
      retryBaseMs: 1,
      now: () => clock,
    });
    // Unreachable from the server's own worker: nothing listens there (loopback, refused at once).
    const created = await register('http://127.0.0.1:9/down', ['hold.created']);
    const { a, b } = await fundedPair(100);
    await s.http.call('/v1/holds', {
      token: client.token,
      headers: key(),
      body: { source_account_id: a, destination_account_id: b, amount: 5, currency: 'EUR' },
    });
    // Half a day further at each pass: the failures go on for three days.
    await eventually(async () => {
      clock += RETRY_FOR_MS / 6;
      await worker.tick();
      return (await s.http.call(`/v1/webhook-endpoints/${created.body.id}`, { token: client.token })).body.status === 'disabled';
    }, 'the endpoint disabled');
    const audit = await s.database.db.query<{ action: string; target: string }>(
      "SELECT action, target FROM audit_events WHERE action = 'webhook.endpoint_disable' AND target = $1",
      [created.body.id],
    );
    expect(audit).toHaveLength(1);
    const watcher = await s.newClient('acme', ['alerts:read']);
    await eventually(
      async () =>
        JSON.stringify((await s.http.call('/v1/alerts?limit=100', { token: watcher.token })).body).includes('webhook_endpoint_disabled'),
      'the alert',
    );
    const history = await s.http.call(`/v1/webhook-endpoints/${created.body.id}/deliveries`, { token: client.token });
    const failed = history.body.data[0];
    expect(failed).toMatchObject({ status: 'failed', last_error: expect.any(String) });
    const retried = await s.http.call(`/v1/webhook-endpoints/${created.body.id}/deliveries/${failed.id}/retry`, {
      token: client.token,
      body: {},
    });
    expect(retried.status).toBe(202);
    expect((await s.http.call(`/v1/webhook-endpoints/${created.body.id}`, { token: client.token })).body.status).toBe('active');
    await s.http.call(`/v1/webhook-endpoints/${created.body.id}`, { method: 'DELETE', token: client.token });
  });
});

describeEngines('events and deliveries: retention', (engine: Engine) => {
  it('after 30 days finished deliveries and their events go; an event a pending delivery needs stays', async () => {
    const t = await createTestDatabase(engine);
    try {
      const old = Date.now() - EVENT_RETENTION_MS - 1000;
      const tenant = 'ten_00000000000000000000000001';
      await t.db.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [tenant, 'retention', old]);
      await t.db.run(
        "INSERT INTO webhook_endpoints (id, tenant_id, url, events, status, secret, created_by, created_at) VALUES ('whe_1', $1, 'https://x.example/', 'hold.created', 'active', 'sb1.x.y', 'cli', $2)",
        [tenant, old],
      );
      for (const [id, position, delivery] of [
        ['evt_done', 1, 'succeeded'],
        ['evt_pending', 2, 'pending'],
        ['evt_new', 3, 'succeeded'],
      ] as const) {
        const at = id === 'evt_new' ? Date.now() : old;
        await t.db.run(
          "INSERT INTO events (id, tenant_id, type, data, created_at, position) VALUES ($1, $2, 'hold.created', '{}', $3, $4)",
          [id, tenant, at, position],
        );
        await t.db.run(
          "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, position, status, attempts, next_attempt_at, created_at) VALUES ($1, 'whe_1', $2, $3, $4, 1, $5, $5)",
          [`whd_${id}`, id, position, delivery, at],
        );
      }
      expect(await sweepEvents(t.db)).toEqual({ deliveries: 1, events: 1 });
      const left = await t.db.query<{ id: string }>('SELECT id FROM events ORDER BY id');
      expect(left.map((e) => e.id)).toEqual(['evt_new', 'evt_pending']);
    } finally {
      await t.dispose();
    }
  });
});
