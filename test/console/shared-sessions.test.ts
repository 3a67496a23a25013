// Console sessions shared by the nodes of one deployment (migrations 21 and 22): a session made
// through one server instance works on a second instance on the same database (same master key,
// same public URL, as behind a load balancer), and a sign-out on the second ends it on the first;
// a sign-in started on one instance completes on the other.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { createClient } from '../e2e/http.js';
import { Browser } from '../fapi/fapi-client.js';
import { ensureConsoleBuilt } from './console-build.js';
import { PASSWORD, TENANT } from './console-setup.js';
import { signIn } from './http-signin.js';

/** A port nobody listens on now (the second node's, so the test can reach it beside the public URL). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe('console sessions across nodes', () => {
  let a: TestServer;
  let b: TestServer;
  /** The second node itself (its own port and certificate; b.url is the deployment's public URL). */
  let bHttp: ReturnType<typeof createClient>;

  beforeAll(async () => {
    await ensureConsoleBuilt();
    a = await startTestServer('sqlite');
    await a.server.services.identity.users.create({ tenant: TENANT, email: 'aude@acme.example', password: PASSWORD, role: 'auditor' });
    // The second node: the first one's database and master key, and the deployment's one public URL.
    const port = await freePort();
    b = await startTestServer('sqlite', {
      DATABASE_URL: a.database.url,
      VAULTGATE_MASTER_KEY_FILE: path.join(a.dataDir, 'master.key'),
      VAULTGATE_PUBLIC_URL: a.url,
      VAULTGATE_PORT: String(port),
    });
    bHttp = createClient(`https://localhost:${port}`, readFileSync(path.join(b.dataDir, 'dev-tls-cert.pem')));
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('a sign-in started on one instance completes on the other (the authorization response sent there)', async () => {
    let seen = 0;
    const landed = await signIn(a, new Browser(a), 'aude@acme.example', async (url, loginCookie) => {
      seen++;
      return bHttp.call(url, { headers: { cookie: loginCookie } });
    });
    expect(seen).toBe(1);
    expect(landed.to.pathname).toBe('/console/');
    expect(landed.to.search).toBe('');
    const cookie = landed.cookie!;
    expect((await a.http.call('/console/api/session', { headers: { cookie } })).status).toBe(200);
    // The state was taken there: the same authorization response does not work twice, on either node.
    expect(await a.database.db.query('SELECT * FROM console_logins')).toEqual([]);
  });

  it('a session made through one instance works on the other; a sign-out there ends it on both', async () => {
    const landed = await signIn(a, new Browser(a), 'aude@acme.example');
    expect(landed.to.pathname).toBe('/console/');
    const cookie = landed.cookie!;
    const onA = await a.http.call('/console/api/session', { headers: { cookie } });
    expect(onA.status).toBe(200);
    const onB = await bHttp.call('/console/api/session', { headers: { cookie } });
    expect(onB.status).toBe(200);
    expect(onB.body).toEqual(onA.body);
    // The second node relays with the session's token and DPoP key, made on the first.
    const events = await bHttp.call('/console/api/v1/audit-events?limit=1', { headers: { cookie } });
    expect(events.status).toBe(200);
    expect((await bHttp.call('/console/api/v1/admin/clients', { headers: { cookie } })).body.code).toBe('insufficient_scope');
    // Sign-out on the second node (the browser's Origin is the deployment's public URL).
    const out = await bHttp.call('/console/api/logout', {
      method: 'POST',
      headers: { cookie, origin: a.url, 'x-csrf-token': onB.body.csrf },
    });
    expect(out.status).toBe(204);
    expect((await a.http.call('/console/api/session', { headers: { cookie } })).status).toBe(401);
    expect((await bHttp.call('/console/api/session', { headers: { cookie } })).status).toBe(401);
  });
});
