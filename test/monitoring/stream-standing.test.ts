// Alert streams are held to what a request is held to, for as long as they last (penetration-test
// findings): at most 5 per client (the 6th refused with 429 too_many_streams, also when they are
// opened all at once) and `streams.max` per node, counted apart from the in-flight cap; and ended
// within a second when their token no longer stands — the token or its client revoked (on this
// node, on another one, or by the CLI in another process), alerts:read removed from the client or
// the user's role, the user disabled, the token expired — before an alert raised after that is
// delivered.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { createClient } from '../e2e/http.js';
import { dpopProof, registerFapiClient, type DpopKey, type FapiClient } from '../fapi/fapi-client.js';
import { describeEngines, type Engine } from '../support/databases.js';
import { writeConfig } from '../traffic/support.js';
import { cli, tokenFor } from '../users/support.js';
import { openStream, type Stream } from './support.js';
import { startTestIdp, type TestIdp } from '../support/test-idp.js';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const PASSWORD = 'correct horse battery staple';
/** "Within a second" of polling, plus slack for a loaded 2-core machine; far below the heartbeat. */
const WITHIN_MS = 1500;

interface H2Stream {
  status: number;
  code: string | undefined;
  retryAfter: string | undefined;
  close(): void;
}

/** An HTTP/2 alert stream: its status, its code and Retry-After when refused, and a way to close it. */
function h2Stream(session: http2.ClientHttp2Session, token: string) {
  return new Promise<H2Stream>((resolve, reject) => {
    const stream = session.request({ ':path': '/v1/alerts/stream', authorization: `Bearer ${token}`, accept: 'text/event-stream' });
    let status = 0;
    let retryAfter: string | undefined;
    let text = '';
    stream.on('response', (h) => {
      status = Number(h[':status']);
      retryAfter = h['retry-after'];
    });
    stream.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      if (status === 200 && text.includes(': connected')) resolve({ status, code: undefined, retryAfter, close: () => stream.close() });
    });
    stream.on('end', () => {
      if (status !== 200) resolve({ status, code: (JSON.parse(text) as { code?: string }).code, retryAfter, close: () => undefined });
    });
    stream.on('error', reject);
    stream.end();
  });
}

const refusal = (x: H2Stream) => [x.status, x.code, x.retryAfter !== undefined];

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
      expect(refusal(await h2Stream(session, soc.token))).toEqual([429, 'too_many_streams', true]);
      // The streams hold no in-flight slot: plain requests are answered meanwhile.
      expect((await s.http.call('/v1/alerts', { token: soc.token })).status).toBe(200);
      expect((await h2Stream(session, other.token)).status).toBe(200);
      five[0]!.close();
      await expect
        .poll(
          async () => {
            const again = await h2Stream(session, soc.token);
            if (again.status === 200) again.close();
            return again.status;
          },
          { timeout: 5000, interval: 100 },
        )
        .toBe(200);
    } finally {
      session.destroy();
    }
  });
});

describeEngines('the stream caps hold for streams opened all at once, and per node', (engine: Engine) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(engine, { VAULTGATE_CONFIG: writeConfig('rate_limits:\n  streams: { max: 8 }\n') });
  });
  afterAll(async () => s?.close());

  it('24 streams of one client at once: 5 open, 19 refused; then the node is full at 8 for everyone', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => s.newClient('acme', ['alerts:read'])));
    const ca = readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem'));
    const sessions = [1, 2, 3].map(() => http2.connect(s.url, { ca }));
    try {
      // All in flight together: a place is taken when a stream is admitted, not when it opens.
      const burst = await Promise.all(sessions.flatMap((session) => Array.from({ length: 8 }, () => h2Stream(session, a!.token))));
      expect(burst.filter((x) => x.status === 200)).toHaveLength(5);
      expect(burst.filter((x) => x.status !== 200).map(refusal)).toEqual(Array(19).fill([429, 'too_many_streams', true]));
      for (let i = 0; i < 3; i++) expect((await h2Stream(sessions[0]!, b!.token)).status).toBe(200);
      expect(s.server.services.monitoring.streams.size).toBe(8);
      expect(refusal(await h2Stream(sessions[0]!, c!.token))).toEqual([429, 'too_many_streams', true]);
    } finally {
      for (const session of sessions) session.destroy();
    }
    await expect.poll(() => s.server.services.monitoring.streams.size, { timeout: 5000, interval: 50 }).toBe(0);
  });
});

const silent = () => createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));

describeEngines('an alert stream ends when its token no longer stands', (engine: Engine) => {
  let s: TestServer;
  // A second node on the same database and data directory (keys): its own issuer URL and port.
  let nodeB: RunningServer;
  let httpB: ReturnType<typeof createClient>;
  let mover: { token: string };
  let watcher: { token: string };
  let app: FapiClient;
  let source: string;
  let destination: string;
  let customer: string;
  beforeAll(async () => {
    s = await startTestServer(engine, {
      VAULTGATE_CONFIG: writeConfig('alerts:\n  heartbeat_seconds: 60\n  rules:\n    large_transfer: { threshold: 1000 }\n'),
    });
    nodeB = await startServer(loadConfig(s.env), { logger: silent() });
    httpB = createClient(nodeB.url, readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem')));
    mover = await s.newClient('acme');
    watcher = await s.newClient('acme', ['alerts:read']);
    app = await registerFapiClient(s, 'acme', ['alerts:read']);
    const call = (p: string, body: unknown, key?: string) =>
      s.http.call(p, { token: mover.token, body, ...(key ? { headers: { 'idempotency-key': key } } : {}) });
    customer = (await call('/v1/customers', { full_name: 'Ada Lovelace', email: 'ada@example.com' })).body.id as string;
    source = (await call('/v1/accounts', { customer_id: customer, currency: 'EUR' })).body.id as string;
    destination = (await call('/v1/accounts', { customer_id: customer, currency: 'EUR' })).body.id as string;
    expect((await call('/v1/deposits', { account_id: source, amount: 1_000_000, currency: 'EUR', reference: 'seed' }, 'seed')).status).toBe(
      201,
    );
  });
  afterAll(async () => {
    httpB?.close();
    await nodeB?.close();
    await s?.close();
  });

  /** A transfer above the threshold, by a client of its own (alerts are one per rule and client). */
  const raiseAlert = async (amount: number) => {
    const raiser = await s.newClient('acme', ['transfers:write']);
    const res = await s.http.call('/v1/transfers', {
      token: raiser.token,
      headers: { 'idempotency-key': `t-${Math.random()}` },
      body: { source_account_id: source, destination_account_id: destination, amount, currency: 'EUR' },
    });
    expect(res.status).toBe(201);
    return `client:${raiser.clientId}`;
  };

  /** How many large_transfer alerts are stored (one is published to the open streams when stored). */
  const storedAlerts = async () =>
    ((await s.http.call('/v1/alerts?limit=100', { token: watcher.token })).body.data as Array<{ rule: string }>).filter(
      (a) => a.rule === 'large_transfer',
    ).length;

  /**
   * Opens a stream, checks it delivers, runs `end`, then raises an alert: the stream ends within
   * the bound, says why, and never delivers the alert raised after `end` returned.
   */
  async function endsAfter(open: () => Promise<Stream>, end: () => Promise<void>) {
    const stream = await open();
    try {
      expect(stream.status).toBe(200);
      const before = await storedAlerts();
      const first = await raiseAlert(1001);
      await stream.next((a) => a.rule === 'large_transfer' && a.subject === first);
      await end();
      const after = performance.now();
      const second = await raiseAlert(1002);
      const endedAt = await Promise.race([stream.ended, new Promise<number>((r) => setTimeout(() => r(Number.POSITIVE_INFINITY), 5000))]);
      // Polled every second: the end comes well before the next heartbeat (60 s) would.
      expect(endedAt - after).toBeLessThan(WITHIN_MS);
      expect(stream.raw).toContain('event: closed\ndata: {"reason":"token_no_longer_valid"}');
      // The second alert was raised and published, and the stream never carried it.
      await expect.poll(storedAlerts, { timeout: 5000, interval: 50 }).toBe(before + 2);
      // (By subject: an alert of an earlier test, published late, may reach this stream too.)
      expect(stream.alerts.filter((a) => a.alert.subject === first)).toHaveLength(1);
      expect(stream.alerts.filter((a) => a.alert.subject === second)).toEqual([]);
    } finally {
      stream.close();
    }
  }
  const bearer = (token: string) => () => openStream(s, token);
  const dpop = (t: { token: string; dpop: DpopKey }) => async () =>
    openStream(s, t.token, {
      authorization: `DPoP ${t.token}`,
      dpop: await dpopProof(t.dpop, 'GET', `${s.url}/v1/alerts/stream`, t.token),
    });

  it('on revocation of its token (POST /oauth/revoke)', async () => {
    const soc = await s.newClient('acme', ['alerts:read']);
    await endsAfter(bearer(soc.token), async () => {
      const res = await s.http.call('/oauth/revoke', {
        method: 'POST',
        headers: { authorization: basic(soc.clientId, soc.secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: soc.token, token_type_hint: 'access_token' }).toString(),
      });
      expect(res.status).toBe(200);
      expect((await s.http.call('/v1/alerts', { token: soc.token })).status).toBe(401);
    });
  });

  it('on revocation of its client', async () => {
    const soc = await s.newClient('acme', ['alerts:read']);
    await endsAfter(bearer(soc.token), async () => {
      expect(await s.server.services.identity.clients.revoke(soc.clientId)).toBe(true);
    });
  });

  it('on revocation of its client through the admin API of another node', async () => {
    const soc = await s.newClient('acme', ['alerts:read']);
    const admin = await s.server.services.identity.clients.create({ tenant: 'acme', name: 'admin', scopes: ['admin:clients'] });
    const token = await httpB.call('/oauth/token', {
      method: 'POST',
      headers: {
        authorization: basic(admin.client_id, admin.client_secret as string),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=admin:clients',
    });
    expect(token.status).toBe(200);
    await endsAfter(bearer(soc.token), async () => {
      const res = await httpB.call(`/v1/admin/clients/${soc.clientId}`, { method: 'DELETE', token: token.body.access_token });
      expect([res.status, res.body.status]).toEqual([200, 'revoked']);
    });
  });

  it('on revocation of its client by the CLI (another process)', async () => {
    const soc = await s.newClient('acme', ['alerts:read']);
    await endsAfter(bearer(soc.token), async () => {
      const res = await cli(['clients', 'revoke', soc.clientId, '--json'], s.env);
      expect(res.code).toBe(0);
    });
  });

  it('when alerts:read is removed from its client', async () => {
    const soc = await s.newClient('acme', ['alerts:read', 'accounts:read']);
    await endsAfter(bearer(soc.token), async () => {
      expect(await s.server.services.identity.clients.setScopes(soc.clientId, ['accounts:read'])).toBe(true);
      expect((await s.http.call('/v1/alerts', { token: soc.token })).body.code).toBe('insufficient_scope');
    });
  });

  it('when the admin API removes alerts:read from its client', async () => {
    const soc = await s.newClient('acme', ['alerts:read', 'accounts:read']);
    const admin = await s.newClient('acme', ['admin:clients']);
    await endsAfter(bearer(soc.token), async () => {
      const res = await s.http.call(`/v1/admin/clients/${soc.clientId}/scopes`, {
        method: 'PUT',
        token: admin.token,
        body: { scopes: ['accounts:read'] },
      });
      expect([res.status, res.body.scopes]).toEqual([200, ['accounts:read']]);
    });
  });

  it("when its user's role changes to one without alerts:read (a DPoP-bound end-user token)", async () => {
    const users = s.server.services.identity.users;
    const email = `aude-${engine}@acme.example`;
    const created = await users.create({ tenant: 'acme', email, password: PASSWORD, role: 'auditor' });
    // A customer user needs its customer: link one first (no command links an existing user).
    await s.database.db.run('UPDATE users SET customer_id = $1 WHERE id = $2', [customer, created.user_id]);
    const t = await tokenFor(s, app, { email, password: PASSWORD }, 'alerts:read');
    await endsAfter(dpop(t), async () => {
      expect((await users.setRole({ tenant: 'acme', email }, 'customer')).role).toBe('customer');
    });
  });

  it('when its user is disabled', async () => {
    const users = s.server.services.identity.users;
    const email = `dora-${engine}@acme.example`;
    await users.create({ tenant: 'acme', email, password: PASSWORD, role: 'auditor' });
    const t = await tokenFor(s, app, { email, password: PASSWORD }, 'alerts:read');
    await endsAfter(dpop(t), async () => {
      expect((await users.disable({ tenant: 'acme', email })).status).toBe('disabled');
    });
  });
});

describe('an alert stream ends at its token’s exp', () => {
  // Our access tokens live 10 minutes (not configurable); an external issuer's token can be minted
  // with a lifetime of seconds, and its only standing is its exp: the same timer ends both.
  let s: TestServer;
  let idp: TestIdp;
  let issuer: string;
  let signer: CryptoKey;
  let idpDir: string;

  beforeAll(async () => {
    idpDir = mkdtempSync(path.join(tmpdir(), 'vaultgate-idp-'));
    const started = await startTestIdp(idpDir);
    ({ issuer, signer } = started);
    const certFile = started.certFile;
    idp = started;
    s = await startTestServer('sqlite', {
      VAULTGATE_EXTERNAL_ISSUER: issuer,
      VAULTGATE_EXTERNAL_AUDIENCE: 'vaultgate-api',
      VAULTGATE_EXTERNAL_CA: certFile,
      VAULTGATE_EXTERNAL_CLAIMS: 'tenant=org,role=vg_role',
    });
    await s.newClient('acme', ['alerts:read']); // creates the tenant the external token names
  });
  afterAll(async () => {
    await s?.close();
    idp?.close();
    if (idpDir) rmSync(idpDir, { recursive: true, force: true });
  });

  it('ends within the bound after exp, not before, and says so', async () => {
    const expS = Math.ceil(Date.now() / 1000) + 3;
    const token = await new SignJWT({ org: 'acme', vg_role: 'auditor' })
      .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
      .setIssuer(issuer)
      .setAudience('vaultgate-api')
      .setSubject('kc-user-1')
      .setIssuedAt()
      .setExpirationTime(expS)
      .sign(signer);
    const stream = await openStream(s, token);
    try {
      expect(stream.status).toBe(200);
      const expAt = performance.now() + (expS * 1000 - Date.now());
      const endedAt = await Promise.race([stream.ended, new Promise<number>((r) => setTimeout(() => r(Number.POSITIVE_INFINITY), 10_000))]);
      expect(endedAt).toBeGreaterThanOrEqual(expAt - 50);
      expect(endedAt - expAt).toBeLessThan(WITHIN_MS);
      expect(stream.raw).toContain('event: closed\ndata: {"reason":"token_expired"}');
    } finally {
      stream.close();
    }
  });
});
