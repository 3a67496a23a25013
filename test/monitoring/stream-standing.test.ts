// Alert streams are held to what a request is held to, for as long as they last (penetration-test
// findings): at most 5 per client (the 6th refused with 429 too_many_streams), counted apart from
// the in-flight cap, and ended within a second when their token no longer stands — the token or
// its client revoked, alerts:read removed — before an alert raised after that is delivered.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeEngines, type Engine } from '../support/databases.js';
import { writeConfig } from '../traffic/support.js';
import { openStream, type Stream } from './support.js';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** An HTTP/2 alert stream: its status, its code when refused, and a way to close it. */
function h2Stream(session: http2.ClientHttp2Session, token: string) {
  return new Promise<{ status: number; code: string | undefined; close(): void }>((resolve, reject) => {
    const stream = session.request({ ':path': '/v1/alerts/stream', authorization: `Bearer ${token}`, accept: 'text/event-stream' });
    let status = 0;
    let text = '';
    stream.on('response', (h) => {
      status = Number(h[':status']);
    });
    stream.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      if (status === 200 && text.includes(': connected')) resolve({ status, code: undefined, close: () => stream.close() });
    });
    stream.on('end', () => {
      if (status !== 200) resolve({ status, code: (JSON.parse(text) as { code?: string }).code, close: () => undefined });
    });
    stream.on('error', reject);
    stream.end();
  });
}

describe('open alert streams are capped per client and counted apart from requests', () => {
  let s: TestServer;
  beforeAll(async () => {
    // Three requests in flight in all: five open streams would hold them for ever if they counted.
    s = await startTestServer('sqlite', { VAULTGATE_CONFIG: writeConfig('rate_limits:\n  shedding: { max_in_flight: 3 }\n') });
  });
  afterAll(async () => s?.close());

  it('the 6th stream of one client is refused with 429 too_many_streams; another client still opens one; a closed one frees its place', async () => {
    const soc = await s.newClient('acme', ['alerts:read']);
    const other = await s.newClient('acme', ['alerts:read']);
    const session = http2.connect(s.url, { ca: readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem')) });
    try {
      const five = [];
      for (let i = 0; i < 5; i++) five.push(await h2Stream(session, soc.token));
      expect(five.map((x) => x.status)).toEqual([200, 200, 200, 200, 200]);
      const sixth = await h2Stream(session, soc.token);
      expect([sixth.status, sixth.code]).toEqual([429, 'too_many_streams']);
      // The streams hold no in-flight slot: plain requests are answered meanwhile.
      expect((await s.http.call('/v1/alerts', { token: soc.token })).status).toBe(200);
      expect((await h2Stream(session, other.token)).status).toBe(200);
      five[0]!.close();
      await expect.poll(async () => {
        const again = await h2Stream(session, soc.token);
        if (again.status === 200) again.close();
        return again.status;
      }, { timeout: 5000, interval: 100 }).toBe(200);
    } finally {
      session.destroy();
    }
  });
});

describeEngines('an alert stream ends when its token no longer stands', (engine: Engine) => {
  let s: TestServer;
  let mover: { token: string };
  let source: string;
  let destination: string;
  beforeAll(async () => {
    s = await startTestServer(engine, {
      VAULTGATE_CONFIG: writeConfig('alerts:\n  heartbeat_seconds: 60\n  rules:\n    large_transfer: { threshold: 1000 }\n'),
    });
    mover = await s.newClient('acme');
    const call = (p: string, body: unknown, key?: string) => s.http.call(p, { token: mover.token, body, ...(key ? { headers: { 'idempotency-key': key } } : {}) });
    const customer = (await call('/v1/customers', { full_name: 'Ada Lovelace', email: 'ada@example.com' })).body.id as string;
    source = (await call('/v1/accounts', { customer_id: customer, currency: 'EUR' })).body.id as string;
    destination = (await call('/v1/accounts', { customer_id: customer, currency: 'EUR' })).body.id as string;
    expect((await call('/v1/deposits', { account_id: source, amount: 1_000_000, currency: 'EUR', reference: 'seed' }, 'seed')).status).toBe(201);
  });
  afterAll(async () => s?.close());

  /** A transfer above the threshold, by a client of its own (alerts are one per rule and client). */
  const raiseAlert = async (amount: number) => s.http.call('/v1/transfers', {
    token: (await s.newClient('acme', ['transfers:write'])).token, headers: { 'idempotency-key': `t-${Math.random()}` },
    body: { source_account_id: source, destination_account_id: destination, amount, currency: 'EUR' },
  });

  /** Opens a stream, checks it delivers, runs `end`, then raises an alert: the stream ends and never delivers it. */
  async function endsAfter(token: string, end: () => Promise<void>) {
    const stream: Stream = await openStream(s, token);
    try {
      expect((await raiseAlert(1001)).status).toBe(201);
      await stream.next((a) => a.rule === 'large_transfer');
      await end();
      const after = performance.now();
      expect((await raiseAlert(1002)).status).toBe(201);
      const endedAt = await Promise.race([stream.ended, new Promise<number>((r) => setTimeout(() => r(Number.POSITIVE_INFINITY), 5000))]);
      // Polled every second: the end comes well before the next heartbeat (60 s) would.
      expect(endedAt - after).toBeLessThan(1500);
      expect(stream.raw).toContain('event: closed');
      expect(stream.alerts.filter((a) => a.alert.rule === 'large_transfer').length).toBe(1);
    } finally {
      stream.close();
    }
  }

  it('on revocation of its token (POST /oauth/revoke)', async () => {
    const soc = await s.newClient('acme', ['alerts:read']);
    await endsAfter(soc.token, async () => {
      const res = await s.http.call('/oauth/revoke', {
        method: 'POST', headers: { authorization: basic(soc.clientId, soc.secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: soc.token, token_type_hint: 'access_token' }).toString(),
      });
      expect(res.status).toBe(200);
      expect((await s.http.call('/v1/alerts', { token: soc.token })).status).toBe(401);
    });
  });

  it('on revocation of its client', async () => {
    const soc = await s.newClient('acme', ['alerts:read']);
    await endsAfter(soc.token, async () => {
      expect(await s.server.services.identity.clients.revoke(soc.clientId)).toBe(true);
    });
  });

  it('when alerts:read is removed from its client', async () => {
    const soc = await s.newClient('acme', ['alerts:read', 'accounts:read']);
    await endsAfter(soc.token, async () => {
      expect(await s.server.services.identity.clients.setScopes(soc.clientId, ['accounts:read'])).toBe(true);
      expect((await s.http.call('/v1/alerts', { token: soc.token })).body.code).toBe('insufficient_scope');
    });
  });
});
