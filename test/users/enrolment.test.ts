// Follow-up 4: a first TOTP enrolment needs the one-time enrolment code `users create` hands out,
// before any TOTP key is shown. Refusals: no code (or skipping the step), a wrong, reused or expired
// code — one generic answer — and repeated wrong codes are throttled like sign-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { Browser, REDIRECT_URI, formAction, hiddenField, par, pkce, registerFapiClient, type FapiClient } from '../fapi/fapi-client.js';
import { writeConfig } from '../traffic/support.js';
import { decodeQrSvg, unescapeHtml } from './qr.js';
import { dump, pageMessage, signIn } from './support.js';

const PASSWORD = 'correct horse battery staple';
const showsKey = (r: { pages: string[] }) => r.pages.some((p) => /otpauth:|id="totp-secret"|id="totp-qr"/.test(p));

describe('TOTP enrolment needs the one-time enrolment code', () => {
  let s: TestServer;
  let app: FapiClient;
  let lastUserId = '';
  const operator = async (email: string) => {
    const created = await s.server.services.identity.users.create({ tenant: 'acme', email, password: PASSWORD, role: 'operator' });
    lastUserId = created.user_id;
    return created.enrolment_code!;
  };

  beforeAll(async () => {
    s = await startTestServer('sqlite', {
      VAULTGATE_CONFIG: writeConfig(
        'rate_limits:\n  brute_force: { free_attempts: 3, base_lockout_seconds: 600, max_lockout_seconds: 3600 }\n',
      ),
    });
    app = await registerFapiClient(s, 'acme', ['accounts:read']);
  });
  afterAll(async () => s?.close());

  // @control PCI-8.3.2
  it('the code is long, random and stored only as an HMAC with a 72 h expiry; customers and auditors get none', async () => {
    const created = await s.server.services.identity.users.create({
      tenant: 'acme',
      email: 'olga@acme.example',
      password: PASSWORD,
      role: 'admin',
    });
    expect(created.enrolment_code).toMatch(/^[0-9a-f]{4}(-[0-9a-f]{4}){5}$/);
    const hours = (Date.parse(created.enrolment_code_expires_at!) - Date.now()) / 3600_000;
    expect(Math.round(hours)).toBe(72);
    const row = await s.database.db.one('SELECT * FROM users WHERE id = $1', [created.user_id]);
    const text = dump([row]);
    expect(text).not.toContain(created.enrolment_code!);
    expect(text).not.toContain(created.enrolment_code!.replace(/-/g, ''));
    const auditor = await s.server.services.identity.users.create({
      tenant: 'acme',
      email: 'aude@acme.example',
      password: PASSWORD,
      role: 'auditor',
    });
    expect(auditor.enrolment_code).toBeUndefined();
  });

  it('without the code (or skipping its step) no TOTP key is shown', async () => {
    await operator('nina@acme.example');
    const none = await signIn(s, app, { email: 'nina@acme.example', password: PASSWORD });
    expect(none.location).toBe('enrolment-refused');
    expect(showsKey(none)).toBe(false);

    // Drive the pages by hand: an empty code is refused, and the enrolment step refuses the ticket
    // of the code step (the ticket names its step), so it cannot be skipped.
    const { challenge } = pkce();
    const p = await par(s, app, {
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid accounts:read',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const browser = new Browser(s);
    const start = await browser.request(`/oauth/authorize?client_id=${app.clientId}&request_uri=${encodeURIComponent(p.body.request_uri)}`);
    const login = await browser.request(String(start.headers.location));
    const csrf = hiddenField(login.text, 'csrf');
    const codePage = await browser.request(formAction(login.text, 'login')!, {
      form: { csrf, email: 'nina@acme.example', password: PASSWORD },
    });
    const action = formAction(codePage.text, 'enrolment-code')!;
    const ticket = hiddenField(codePage.text, 'ticket');
    const empty = await browser.request(action, { form: { csrf, ticket, enrolment_code: '' } });
    expect(empty.status).toBe(401);
    expect(empty.text).not.toMatch(/otpauth|totp-secret|totp-qr/);
    const skip = await browser.request(action.replace(/enrolment-code$/, 'enrol'), { form: { csrf, ticket, code: '123456' } });
    expect(skip.status).toBe(400);
    expect(skip.text).not.toMatch(/otpauth|totp-secret|totp-qr/);
  });

  it('a wrong, a reused and an expired code get the same refusal; reset-mfa issues a new code that works', async () => {
    const code = await operator('otto@acme.example');
    const wrong = await signIn(s, app, { email: 'otto@acme.example', password: PASSWORD, enrolmentCode: 'ffff-ffff-ffff-ffff-ffff-ffff' });
    expect(wrong.location).toBe('enrolment-refused');
    expect(showsKey(wrong)).toBe(false);

    // The right code shows the key once; the same code cannot start a second enrolment.
    const first = await signIn(s, app, { email: 'otto@acme.example', password: PASSWORD, enrolmentCode: code, stopAtEnrolment: true });
    expect(first.location).toBe('enrolment-started');
    expect(showsKey(first)).toBe(true);
    // The QR code on the page scans as exactly the otpauth URI (and so the key) shown beside it.
    const enrolPage = first.pages.find((p) => p.includes('id="totp-qr"'))!;
    const uri = unescapeHtml(/id="totp-uri">([^<]+)</.exec(enrolPage)![1]!);
    expect(uri).toMatch(/^otpauth:\/\/totp\/.+\?secret=[A-Z2-7]+&/);
    expect(decodeQrSvg(enrolPage)).toBe(uri);
    const reused = await signIn(s, app, { email: 'otto@acme.example', password: PASSWORD, enrolmentCode: code });
    expect(reused.location).toBe('enrolment-refused');
    expect(showsKey(reused)).toBe(false);
    expect(pageMessage(reused)).toBe(pageMessage(wrong));

    const expiredCode = await operator('eve@acme.example');
    // Expire it where it is stored (72 h): no waiting in tests.
    await s.database.db.run('UPDATE users SET enrol_code_expires_at = 1 WHERE id = $1', [lastUserId]);
    const expired = await signIn(s, app, { email: 'eve@acme.example', password: PASSWORD, enrolmentCode: expiredCode });
    expect(expired.location).toBe('enrolment-refused');
    expect(pageMessage(expired)).toBe(pageMessage(wrong));

    // An administrator resets the second factor: a new code, and the enrolment completes with it.
    const reset = await s.server.services.identity.users.resetMfa({ tenant: 'acme', email: 'otto@acme.example' });
    expect(reset.enrolment_code).toMatch(/^[0-9a-f-]{29}$/);
    expect(reset.enrolment_code).not.toBe(code);
    const done = await signIn(s, app, { email: 'otto@acme.example', password: PASSWORD, enrolmentCode: reset.enrolment_code! });
    expect(done.code).toBeDefined();
    expect(done.recoveryCodes).toHaveLength(10);
    const events = await s.database.db.query<{ action: string }>(
      "SELECT action FROM audit_events WHERE action IN ('user.mfa_reset', 'user.mfa_enrolled')",
    );
    expect(events.map((e) => e.action).sort()).toEqual(['user.mfa_enrolled', 'user.mfa_reset']);
  });

  // @control PCI-8.3.4
  it('repeated wrong codes pause the check: then even the right code is refused', async () => {
    const code = await operator('mallory@acme.example');
    for (let i = 0; i < 4; i++) {
      expect(
        (await signIn(s, app, { email: 'mallory@acme.example', password: PASSWORD, enrolmentCode: `aaaa-bbbb-cccc-dddd-eeee-000${i}` }))
          .location,
      ).toBe('enrolment-refused');
    }
    const right = await signIn(s, app, { email: 'mallory@acme.example', password: PASSWORD, enrolmentCode: code });
    expect(right.location).toBe('enrolment-refused');
    expect(showsKey(right)).toBe(false);
    const lock = await s.database.db.query<{ details: string }>("SELECT details FROM audit_events WHERE action = 'ratelimit.lockout'");
    expect(lock.map((l) => JSON.parse(l.details))).toContainEqual(expect.objectContaining({ kind: 'mfa', failures: 4 }));
  });
});
