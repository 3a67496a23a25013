// The console's server side over real HTTPS, without a browser: headers of the page, its assets
// and its data; the sign-in's state binding; the tenant lookup that never creates a tenant; CSRF
// and Origin checks on changes; the console client per tenant, replaced when revoked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fapi/fapi-client.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { ensureConsoleBuilt } from './console-build.js';
import { isAllowed } from '../../src/console/api-proxy.js';
import { freshAuthentication } from '../../src/console/oauth.js';
import { CONSOLE_SCOPES } from '../../src/console/settings.js';
import { PASSWORD, TENANT } from './console-setup.js';
import { signIn } from './http-signin.js';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

describe('console backend for frontend', () => {
  let s: TestServer;

  beforeAll(async () => {
    await ensureConsoleBuilt();
    s = await startTestServer('sqlite');
    await s.newClient(TENANT, ['audit:read']);
    await s.server.services.identity.users.create({ tenant: TENANT, email: 'aude@acme.example', password: PASSWORD, role: 'auditor' });
    await s.server.services.identity.users.create({ tenant: TENANT, email: 'axel@acme.example', password: PASSWORD, role: 'auditor' });
  });
  afterAll(async () => s?.close());

  it('serves the page with a strict CSP and no caching, its hashed assets as immutable', async () => {
    const page = await s.http.call('/console');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(CSP);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['strict-transport-security']).toBeDefined();
    const script = /src="\/console\/assets\/([^"]+\.js)"/.exec(page.text)![1]!;
    const style = /href="\/console\/assets\/([^"]+\.css)"/.exec(page.text)![1]!;
    expect(page.text).not.toMatch(/<script>|<style>|style="/);
    for (const [name, type] of [
      [script, 'text/javascript'],
      [style, 'text/css'],
    ] as const) {
      const asset = await s.http.call(`/console/assets/${name}`);
      expect(asset.status).toBe(200);
      expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(asset.headers['content-type']).toContain(type);
    }
    expect((await s.http.call('/console/assets/..%2f..%2fpackage.json')).status).toBe(404);
    expect((await s.http.call('/console/assets/index.js')).status).toBe(404);
    expect((await s.http.call('/console/nosuchpage')).status).toBe(404);
  });

  it('data answers are no-store, and need a session', async () => {
    for (const p of ['/console/api/session', '/console/api/v1/alerts', '/console/api/alerts/stream']) {
      const res = await s.http.call(p);
      expect(res.status, p).toBe(401);
      expect(res.body.code).toBe('session_required');
      expect(res.headers['cache-control']).toBe('no-store');
    }
    // Only the API routes the console uses are relayed, whatever the session.
    expect((await s.http.call('/console/api/v1/customers')).status).toBe(404);
  });

  it('an unknown tenant is said as such and is not created', async () => {
    const res = await s.http.call('/console/login?tenant=no-such-tenant');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/console/?error=unknown_tenant&tenant=no-such-tenant');
    const row = await s.database.db.one<{ n: number }>('SELECT COUNT(*) AS n FROM tenants WHERE name = $1', ['no-such-tenant']);
    expect(Number(row?.n)).toBe(0);
  });

  it('a sign-in starts with PAR for the tenant’s console client, bound to this browser by a __Host- cookie', async () => {
    const res = await s.http.call(`/console/login?tenant=${TENANT}`);
    expect(res.status).toBe(303);
    const to = new URL(String(res.headers.location), s.url);
    expect(to.pathname).toBe('/oauth/authorize');
    expect([...to.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^__Host-vg-console-login=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict; Max-Age=600$/);
    const client = await s.server.services.identity.clients.get(to.searchParams.get('client_id')!);
    expect(client).toMatchObject({
      tenant: TENANT,
      name: 'vaultgate console',
      auth_method: 'private_key_jwt',
      fapi: true,
      binding: 'dpop',
    });
    // The same client next time; a new one once it is revoked.
    const again = new URL(String((await s.http.call(`/console/login?tenant=${TENANT}`)).headers.location), s.url);
    expect(again.searchParams.get('client_id')).toBe(client!.client_id);
    await s.server.services.identity.clients.revoke(client!.client_id);
    const replaced = new URL(String((await s.http.call(`/console/login?tenant=${TENANT}`)).headers.location), s.url);
    expect(replaced.searchParams.get('client_id')).not.toBe(client!.client_id);
  });

  it('a console client registered by an earlier version (fewer scopes) is widened on next use', async () => {
    const first = new URL(String((await s.http.call(`/console/login?tenant=${TENANT}`)).headers.location), s.url);
    const clientId = first.searchParams.get('client_id')!;
    const clients = s.server.services.identity.clients;
    expect((await clients.get(clientId))!.scopes).toEqual(expect.arrayContaining([...CONSOLE_SCOPES]));
    // As step 1 registered it.
    await clients.setScopes(clientId, ['alerts:read', 'audit:read', 'admin:clients', 'analytics:read']);
    const next = new URL(String((await s.http.call(`/console/login?tenant=${TENANT}`)).headers.location), s.url);
    expect(next.searchParams.get('client_id')).toBe(clientId);
    expect([...(await clients.get(clientId))!.scopes].sort()).toEqual([...CONSOLE_SCOPES].sort());
    expect(CONSOLE_SCOPES).toEqual(expect.arrayContaining(['alerts:write', 'admin:keys', 'admin:users']));
  });

  it('only the pages’ API calls are relayed, by method and path', () => {
    const id = `alr_${'0'.repeat(26)}`;
    expect(isAllowed('POST', `/v1/alerts/${id}/acknowledge`)).toBe(true);
    expect(isAllowed('GET', `/v1/alerts/${id}/acknowledge`)).toBe(false);
    expect(isAllowed('POST', '/v1/admin/keys/rotate')).toBe(true);
    expect(isAllowed('POST', `/v1/admin/users/usr_${'0'.repeat(26)}/reset-mfa`)).toBe(true);
    expect(isAllowed('POST', `/v1/admin/users/usr_${'0'.repeat(26)}/delete`)).toBe(false);
    expect(isAllowed('POST', `/v1/webhook-endpoints/whe_${'0'.repeat(26)}/deliveries/whd_${'0'.repeat(26)}/retry`)).toBe(true);
    // What the console never does: create webhook endpoints (a secret), create clients, move money.
    expect(isAllowed('POST', '/v1/webhook-endpoints')).toBe(false);
    expect(isAllowed('POST', '/v1/admin/clients')).toBe(false);
    // A client's revocation is relayed; no other DELETE is.
    expect(isAllowed('DELETE', `/v1/admin/clients/cli_${'0'.repeat(26)}`)).toBe(true);
    expect(isAllowed('DELETE', `/v1/webhook-endpoints/whe_${'0'.repeat(26)}`)).toBe(false);
    expect(isAllowed('DELETE', `/v1/admin/clients/cli_${'0'.repeat(26)}/scopes`)).toBe(false);
    expect(isAllowed('POST', '/v1/transfers')).toBe(false);
  });

  it('the ID token’s auth_time must fall within this sign-in (prompt=login), not an earlier one', () => {
    const started = Date.UTC(2026, 0, 1, 12, 0, 0);
    const now = started + 60_000;
    expect(freshAuthentication(started / 1000 + 30, started, now)).toBe(true);
    expect(freshAuthentication(started / 1000 - 3, started, now)).toBe(true); // clock skew
    // A sign-in remembered from before this one started (a silent one): refused.
    expect(freshAuthentication(started / 1000 - 60, started, now)).toBe(false);
    expect(freshAuthentication(now / 1000 + 60, started, now)).toBe(false);
    expect(freshAuthentication(undefined, started, now)).toBe(false);
    expect(freshAuthentication(String(started / 1000), started, now)).toBe(false);
  });

  it('a callback without this browser’s state is refused', async () => {
    const started = await s.http.call(`/console/login?tenant=${TENANT}`);
    const state = /__Host-vg-console-login=([^;]+)/.exec(String(started.headers['set-cookie']))![1]!;
    const q = `code=abc&state=${state}&iss=${encodeURIComponent(s.url)}`;
    // No cookie (another browser), or a cookie for another sign-in: nothing is exchanged.
    expect((await s.http.call(`/console/callback?${q}`)).headers.location).toBe('/console/?error=expired');
    const other = await s.http.call(`/console/callback?${q}`, { headers: { cookie: '__Host-vg-console-login=someone-elses-state' } });
    expect(other.headers.location).toBe('/console/?error=expired');
  });

  it('a change needs the session’s CSRF token and the console’s own Origin', async () => {
    const browser = new Browser(s);
    const landed = await signIn(s, browser, 'aude@acme.example');
    expect(landed.to.pathname).toBe('/console/');
    const session = await browser.request('/console/api/session');
    expect(session.status).toBe(200);
    expect(session.body).toMatchObject({ tenant: TENANT, role: 'auditor', scopes: ['alerts:read', 'audit:read'] });
    const sessionCookie = landed.cookie!;
    const logout = (headers: Record<string, string>) =>
      s.http.call('/console/api/logout', { method: 'POST', headers: { cookie: sessionCookie, ...headers } });
    expect((await logout({ origin: s.url })).body.code).toBe('csrf_failed');
    expect((await logout({ origin: 'https://evil.example', 'x-csrf-token': session.body.csrf })).body.code).toBe('csrf_failed');
    expect((await logout({ 'x-csrf-token': session.body.csrf })).body.code).toBe('csrf_failed');
    // The data relay: the auditor's own token, refused by the API where the role has no scope.
    expect((await browser.request('/console/api/v1/audit-events?limit=5')).status).toBe(200);
    expect((await browser.request('/console/api/v1/admin/clients')).body.code).toBe('insufficient_scope');
    const out = await logout({ origin: s.url, 'x-csrf-token': session.body.csrf });
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toContain('__Host-vg-console=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0');
    expect((await browser.request('/console/api/session')).status).toBe(401);
  });

  it('a session whose token the API no longer accepts ends at its next call (here: the user is disabled)', async () => {
    const browser = new Browser(s);
    await signIn(s, browser, 'axel@acme.example');
    expect((await browser.request('/console/api/v1/audit-events?limit=1')).status).toBe(200);
    await s.server.services.identity.users.disable({ tenant: TENANT, email: 'axel@acme.example' });
    const after = await browser.request('/console/api/v1/audit-events?limit=1');
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('session_ended');
    expect((await browser.request('/console/api/session')).status).toBe(401);
  });
});
