// A sign-in session counts only while its account still accepts it. Found by a penetration test:
// a customer promoted to admin got admin tokens from its old password-only session, with no TOTP.
// Now a role change, a second-factor reset or disabling ends the user's sessions: the next
// authorization in the same browser goes through sign-in again, with every step the role needs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { Browser, REDIRECT_URI, authorize, formAction, par, pkce, registerFapiClient, type FapiClient } from '../fapi/fapi-client.js';

const PASSWORD = 'correct horse battery staple';

describe('sign-in sessions end when the account changes', () => {
  let s: TestServer;
  let app: FapiClient;
  let customerId: string;

  beforeAll(async () => {
    s = await startTestServer('sqlite');
    app = await registerFapiClient(s, 'acme', ['accounts:read', 'admin:clients', 'audit:read']);
    const svc = await s.newClient('acme');
    customerId = (await s.http.call('/v1/customers', { token: svc.token, body: { full_name: 'Cleo C', email: 'c@example.com' } })).body.id;
  });
  afterAll(async () => s?.close());

  /** One authorization in `browser`: the pages it showed and how it ended. */
  async function authorizeIn(browser: Browser, email: string, scope: string, extra: { enrolmentCode?: string } = {}) {
    const { challenge } = pkce();
    const p = await par(s, app, {
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: `openid ${scope}`,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    expect(p.status).toBe(201);
    const result = await authorize(s, browser, app.clientId, p.body.request_uri, { email, password: PASSWORD, ...extra });
    return { ...result, askedToSignIn: result.pages.some((html) => formAction(html, 'login') !== undefined) };
  }

  it('a promotion into a TOTP role: the old password-only session no longer yields a token', async () => {
    const users = s.server.services.identity.users;
    await users.create({ tenant: 'acme', email: 'cleo@acme.example', password: PASSWORD, role: 'customer', customerId });
    const browser = new Browser(s);
    const first = await authorizeIn(browser, 'cleo@acme.example', 'accounts:read');
    expect([first.askedToSignIn, Boolean(first.code)]).toEqual([true, true]);
    // The session is reused while nothing changed: no sign-in page the second time.
    const again = await authorizeIn(browser, 'cleo@acme.example', 'accounts:read');
    expect([again.askedToSignIn, Boolean(again.code)]).toEqual([false, true]);

    const promoted = await users.setRole({ tenant: 'acme', email: 'cleo@acme.example' }, 'admin');
    // Same browser, same session cookie: sign-in again, and the admin role's TOTP enrolment with it.
    const withoutCode = await authorizeIn(browser, 'cleo@acme.example', 'admin:clients');
    expect(withoutCode.askedToSignIn).toBe(true);
    expect(withoutCode.location).toBe('enrolment-refused');
    const enrolled = await authorizeIn(browser, 'cleo@acme.example', 'admin:clients', { enrolmentCode: promoted.enrolment_code! });
    expect(Boolean(enrolled.code)).toBe(true);
  });

  it('a second-factor reset and disabling end the session too', async () => {
    const users = s.server.services.identity.users;
    const created = await users.create({ tenant: 'acme', email: 'dora@acme.example', password: PASSWORD, role: 'auditor' });
    expect(created.enrolment_code).toBeUndefined();
    const browser = new Browser(s);
    expect((await authorizeIn(browser, 'dora@acme.example', 'audit:read')).askedToSignIn).toBe(true);
    expect((await authorizeIn(browser, 'dora@acme.example', 'audit:read')).askedToSignIn).toBe(false);
    // In the very second the session began, too (its row is deleted, not just outdated).
    await users.resetMfa({ tenant: 'acme', email: 'dora@acme.example' });
    expect((await authorizeIn(browser, 'dora@acme.example', 'audit:read')).askedToSignIn).toBe(true);
    await users.disable({ tenant: 'acme', email: 'dora@acme.example' });
    const disabled = await authorizeIn(browser, 'dora@acme.example', 'audit:read');
    expect([disabled.askedToSignIn, disabled.location, disabled.code]).toEqual([true, 'login-refused', undefined]);
  });
});
