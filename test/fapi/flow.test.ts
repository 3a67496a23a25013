// The scripted FAPI 2.0 run against the real server (issue 4 "What it must show"): PAR → sign-in
// (with TOTP where the role needs it) → consent → code → token with DPoP → API call with a proof
// → refresh → revocation → the same token refused; then the refusals, each with its exact error;
// then roles (customer confinement, operator without money, auditor without customers).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines } from '../support/databases.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import {
  Browser,
  REDIRECT_URI,
  authorize,
  clientAuthParams,
  dpopProof,
  exchangeCode,
  newDpopKey,
  par,
  pkce,
  registerFapiClient,
  type FapiClient,
} from './fapi-client.js';

const PASSWORD = 'correct horse battery staple';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describeEngines('FAPI 2.0 end to end', (engine) => {
  let s: TestServer;
  let app: FapiClient;
  let accountA: string;
  let accountB: string;
  let customerA: string;
  let customerB: string;
  /** The one-time TOTP enrolment codes `users create` hands out for roles that need TOTP. */
  const enrolmentCodes = new Map<string, string>();

  beforeAll(async () => {
    s = await startTestServer(engine);
    const svc = await s.newClient('acme');
    customerA = (await s.http.call('/v1/customers', { token: svc.token, body: { full_name: 'Ada A', email: 'a@example.com' } })).body.id;
    customerB = (await s.http.call('/v1/customers', { token: svc.token, body: { full_name: 'Bob B', email: 'b@example.com' } })).body.id;
    accountA = (await s.http.call('/v1/accounts', { token: svc.token, body: { customer_id: customerA, currency: 'EUR' } })).body.id;
    accountB = (await s.http.call('/v1/accounts', { token: svc.token, body: { customer_id: customerB, currency: 'EUR' } })).body.id;
    await s.http.call('/v1/deposits', {
      token: svc.token,
      headers: { 'idempotency-key': 'fund-a' },
      body: { account_id: accountA, amount: 1000, currency: 'EUR', reference: 'test' },
    });
    const users = s.server.services.identity.users;
    await users.create({ tenant: 'acme', email: 'ada@acme.example', password: PASSWORD, role: 'customer', customerId: customerA });
    await users.create({ tenant: 'acme', email: 'bob@acme.example', password: PASSWORD, role: 'customer', customerId: customerB });
    const olga = await users.create({ tenant: 'acme', email: 'olga@acme.example', password: PASSWORD, role: 'operator' });
    enrolmentCodes.set('olga@acme.example', olga.enrolment_code!);
    await users.create({ tenant: 'acme', email: 'aude@acme.example', password: PASSWORD, role: 'auditor' });
    app = await registerFapiClient(s, 'acme', ['customers:read', 'accounts:read', 'transfers:read', 'transfers:write', 'audit:read']);
  });
  afterAll(async () => s?.close());

  async function signIn(email: string, scope: string, extra: { recoveryCode?: string } = {}) {
    const enrolmentCode = enrolmentCodes.get(email);
    const { verifier, challenge } = pkce();
    const p = await par(s, app, {
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: `openid ${scope}`,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'st-1',
    });
    expect(p.status).toBe(201);
    const result = await authorize(s, new Browser(s), app.clientId, p.body.request_uri, {
      email,
      password: PASSWORD,
      ...(enrolmentCode ? { enrolmentCode } : {}),
      ...extra,
    });
    return { ...result, verifier };
  }

  async function tokenFor(email: string, scope: string) {
    const { code, verifier } = await signIn(email, scope);
    const dpop = await newDpopKey();
    const res = await exchangeCode(s, app, code!, verifier, dpop);
    expect(res.status).toBe(200);
    return { token: res.body.access_token as string, dpop };
  }

  async function api(
    path: string,
    token: string,
    dpop: Awaited<ReturnType<typeof newDpopKey>>,
    method = 'GET',
    body?: unknown,
    key = `k-${Math.random()}`,
  ) {
    return s.http.call(path, {
      method,
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await dpopProof(dpop, method, `${s.url}${path.split('?')[0]}`, token),
        'idempotency-key': key,
      },
      ...(body ? { body } : {}),
    });
  }

  // @control FAPI2-AS-PAR, FAPI2-AS-ISS, FAPI2-AS-SENDER-CONSTRAINED, PCI-8.3.1
  it('the whole run: PAR → sign-in → code (iss, state) → DPoP token → API call → refresh → revocation → refused', async () => {
    const { code, location, verifier, pages } = await signIn('ada@acme.example', 'accounts:read customers:read');
    // RFC 9207: the issuer in the authorization response; the state comes back.
    const redirect = new URL(location);
    expect(redirect.searchParams.get('iss')).toBe(s.url);
    expect(redirect.searchParams.get('state')).toBe('st-1');
    expect(pages.some((p) => p.includes('Allow access?'))).toBe(true);

    const dpop = await newDpopKey();
    const tokenRes = await exchangeCode(s, app, code!, verifier, dpop);
    expect(tokenRes.status).toBe(200);
    expect(tokenRes.body.token_type).toBe('DPoP');
    expect(tokenRes.body.refresh_token).toEqual(expect.any(String));
    const at = tokenRes.body.access_token as string;

    const read = await api(`/v1/accounts/${accountA}`, at, dpop);
    expect(read.status).toBe(200);

    // Refresh (client authentication + a new DPoP proof): a new bound access token.
    const refreshed = await s.http.call('/oauth/token', {
      method: 'POST',
      headers: { ...FORM, dpop: await dpopProof(dpop, 'POST', `${s.url}/oauth/token`) },
      body: new URLSearchParams({
        ...(await clientAuthParams(app, s.url)),
        grant_type: 'refresh_token',
        refresh_token: tokenRes.body.refresh_token,
      }).toString(),
    });
    expect(refreshed.status).toBe(200);
    const at2 = refreshed.body.access_token as string;
    expect(refreshed.body.token_type).toBe('DPoP');
    expect((await api(`/v1/accounts/${accountA}`, at2, dpop)).status).toBe(200);

    // Introspection knows it; revocation ends it; the same token is refused at once.
    const introspect = async (token: string) =>
      (
        await s.http.call('/oauth/introspect', {
          method: 'POST',
          headers: FORM,
          body: new URLSearchParams({ ...(await clientAuthParams(app, s.url)), token }).toString(),
        })
      ).body;
    expect(await introspect(at2)).toMatchObject({ active: true, token_type: 'DPoP', client_id: app.clientId });
    const revoked = await s.http.call('/oauth/revoke', {
      method: 'POST',
      headers: FORM,
      body: new URLSearchParams({ ...(await clientAuthParams(app, s.url)), token: at2 }).toString(),
    });
    expect(revoked.status).toBe(200);
    expect(await introspect(at2)).toEqual({ active: false });
    // The revocation is in the audit trail, naming the token by its jti (never the token).
    const jti = JSON.parse(Buffer.from(at2.split('.')[1] as string, 'base64url').toString()).jti as string;
    const events = await s.database.db.query<{ client_id: string; target: string }>(
      "SELECT client_id, target FROM audit_events WHERE action = 'auth.token_revoked'",
    );
    expect(events).toEqual([{ client_id: app.clientId, target: jti }]);
    const after = await api(`/v1/accounts/${accountA}`, at2, dpop);
    expect({ status: after.status, code: after.body.code }).toEqual({ status: 401, code: 'invalid_token' });

    // Revoking the refresh token ends the grant: it cannot be used again, and the access tokens
    // minted from it (here the first one, never revoked itself) stop working at once.
    expect((await api(`/v1/accounts/${accountA}`, at, dpop)).status).toBe(200);
    expect(await introspect(at)).toMatchObject({ active: true });
    const rt = refreshed.body.refresh_token ?? tokenRes.body.refresh_token;
    await s.http.call('/oauth/revoke', {
      method: 'POST',
      headers: FORM,
      body: new URLSearchParams({ ...(await clientAuthParams(app, s.url)), token: rt, token_type_hint: 'refresh_token' }).toString(),
    });
    const again = await s.http.call('/oauth/token', {
      method: 'POST',
      headers: { ...FORM, dpop: await dpopProof(dpop, 'POST', `${s.url}/oauth/token`) },
      body: new URLSearchParams({ ...(await clientAuthParams(app, s.url)), grant_type: 'refresh_token', refresh_token: rt }).toString(),
    });
    expect({ status: again.status, error: again.body.error }).toEqual({ status: 400, error: 'invalid_grant' });
    const orphan = await api(`/v1/accounts/${accountA}`, at, dpop);
    expect({ status: orphan.status, code: orphan.body.code }).toEqual({ status: 401, code: 'invalid_token' });
    // Introspection agrees with the API.
    expect(await introspect(at)).toEqual({ active: false });
  });

  it('prompt=login: the password is asked once, then the consent, and the code comes back', async () => {
    const { verifier, challenge } = pkce();
    const p = await par(s, app, {
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid accounts:read',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      prompt: 'login',
    });
    expect(p.status).toBe(201);
    const result = await authorize(s, new Browser(s), app.clientId, p.body.request_uri, { email: 'ada@acme.example', password: PASSWORD });
    expect(result.code).toEqual(expect.any(String));
    expect(result.pages.filter((page) => page.includes('action="/oauth/interaction/') && page.includes('/login"'))).toHaveLength(1);
    expect((await exchangeCode(s, app, result.code!, verifier, await newDpopKey())).status).toBe(200);
  });

  it("a disabled user's refresh token introspects inactive, like its access tokens", async () => {
    await s.server.services.identity.users.create({
      tenant: 'acme',
      email: 'eve@acme.example',
      password: PASSWORD,
      role: 'customer',
      customerId: customerB,
    });
    const { code, verifier } = await signIn('eve@acme.example', 'accounts:read');
    const tokens = (await exchangeCode(s, app, code!, verifier, await newDpopKey())).body;
    const introspect = async (token: string) =>
      (
        await s.http.call('/oauth/introspect', {
          method: 'POST',
          headers: FORM,
          body: new URLSearchParams({ ...(await clientAuthParams(app, s.url)), token }).toString(),
        })
      ).body;
    expect(await introspect(tokens.refresh_token)).toMatchObject({ active: true, client_id: app.clientId });
    await s.server.services.identity.users.disable({ tenant: 'acme', email: 'eve@acme.example' });
    expect(await introspect(tokens.refresh_token)).toEqual({ active: false });
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
  });

  // @control PCI-8.3.1
  it('TOTP for an operator: enrolment (with the enrolment code) at the first sign-in, recovery codes, then a recovery code signs in (once)', async () => {
    const first = await signIn('olga@acme.example', 'accounts:read');
    // The enrolment code was asked for before any TOTP key was shown.
    const codePage = first.pages.findIndex((p) => p.includes('name="enrolment_code"'));
    const keyPage = first.pages.findIndex((p) => p.includes('otpauth://totp/'));
    expect(codePage).toBeGreaterThanOrEqual(0);
    expect(keyPage).toBeGreaterThan(codePage);
    expect(first.code).toBeDefined();
    expect(first.recoveryCodes).toHaveLength(10);
    expect(first.pages.some((p) => p.includes('otpauth://totp/'))).toBe(true);
    const code = first.recoveryCodes![0]!;
    const second = await signIn('olga@acme.example', 'accounts:read', { recoveryCode: code });
    expect(second.code).toBeDefined();
    // Single use: the same recovery code is refused the second time.
    const third = await signIn('olga@acme.example', 'accounts:read', { recoveryCode: code });
    expect(third.location).toBe('mfa-refused');
  });

  // The lockout itself (after the free attempts, across nodes) is in test/users/signin-lockout.test.ts,
  // with a tight brute-force policy: here the policy is the default one, and all of this file's
  // sign-ins come from one IP, so a lockout here would spill into the other tests.
  // @control OWASP-API2
  it('sign-in failures never reveal whether the account exists', async () => {
    const control = await signIn('ada@acme.example', 'accounts:read');
    expect(control.code).toBeDefined(); // control: the right password works
    const { challenge } = pkce();
    const attempt = async (email: string, password: string) => {
      const p = await par(s, app, {
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        scope: 'openid accounts:read',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      return authorize(s, new Browser(s), app.clientId, p.body.request_uri, { email, password });
    };
    const unknown = await attempt('nobody@acme.example', PASSWORD);
    const badPassword = await attempt('aude@acme.example', 'wrong password!!');
    expect(unknown.location).toBe('login-refused');
    expect(badPassword.location).toBe('login-refused');
    const message = (r: { pages: string[] }) => /role="alert">([^<]+)</.exec(r.pages.at(-1)!)?.[1];
    expect(message(unknown)).toBe(message(badPassword));
    // Nothing personal in the logs.
    expect(s.logs.join('\n')).not.toMatch(/ada@acme|aude@acme|correct horse/);
  });

  it('the sign-in pages: strict CSP, no script, CSRF token required', async () => {
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
    const page = await browser.request(String(start.headers.location));
    expect(page.status).toBe(200);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.text).not.toMatch(/<script|https?:\/\/(?!client\.example)/);
    const action = /action="([^"]+\/login)"/.exec(page.text)![1]!;
    const noCsrf = await browser.request(action, { form: { email: 'ada@acme.example', password: PASSWORD } });
    expect(noCsrf.status).toBe(403);
    const forged = await browser.request(action, { form: { csrf: 'forged', email: 'ada@acme.example', password: PASSWORD } });
    expect(forged.status).toBe(403);
    // A form beyond 8 KiB is refused with a page (no problem+json in a browser), nothing read past the limit.
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const huge = await browser.request(action, { form: { csrf, email: 'ada@acme.example', password: 'x'.repeat(9000) } });
    expect(huge.status).toBe(413);
    expect(String(huge.headers['content-type'])).toMatch(/^text\/html/);
    // The pages are gateway routes: request id, security headers, one log line with the route pattern (never the uid).
    expect(String(page.headers['x-request-id'])).toMatch(/.+/);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const lines = s.logs.map((l) => JSON.parse(l) as { msg?: string; route?: string; req_id?: string });
    const line = lines.find((l) => l.msg === 'request' && l.req_id === page.headers['x-request-id']);
    expect(line?.route).toBe('/oauth/interaction/:uid');
  });

  // @control FAPI2-AS-PKCE, FAPI2-AS-RESPONSE-TYPE, FAPI2-AS-REDIRECT
  it('refusals at PAR: no PKCE, plain PKCE, wrong redirect URI, scope beyond registration', async () => {
    const { challenge } = pkce();
    const base = { response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid accounts:read' };
    const noPkce = await par(s, app, base);
    expect({ status: noPkce.status, error: noPkce.body.error }).toEqual({ status: 400, error: 'invalid_request' });
    const plain = await par(s, app, { ...base, code_challenge: challenge, code_challenge_method: 'plain' });
    expect({ status: plain.status, error: plain.body.error }).toEqual({ status: 400, error: 'invalid_request' });
    const wrongRedirect = await par(s, app, {
      ...base,
      redirect_uri: 'https://evil.example/cb',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    expect({ status: wrongRedirect.status, error: wrongRedirect.body.error }).toEqual({ status: 400, error: 'invalid_request' });
    expect(wrongRedirect.body.error_description).toMatch(/redirect_uri/);
    const beyond = await par(s, app, { ...base, scope: 'openid ledger:fund', code_challenge: challenge, code_challenge_method: 'S256' });
    expect({ status: beyond.status, error: beyond.body.error }).toEqual({ status: 400, error: 'invalid_scope' });
    const token = await par(s, app, { ...base, response_type: 'token', code_challenge: challenge, code_challenge_method: 'S256' });
    expect(token.status).toBe(400);
  });

  // @control FAPI2-AS-PAR
  it('refusal: an authorization request without PAR', async () => {
    const { challenge } = pkce();
    const res = await new Browser(s).request(
      `/oauth/authorize?${new URLSearchParams({
        client_id: app.clientId,
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        scope: 'openid accounts:read',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }).toString()}`,
    );
    // Refused: either an error redirect to the client or an error page; never a sign-in page.
    const location = String(res.headers.location ?? '');
    if (res.status === 303) expect(new URL(location).searchParams.get('error')).toBe('invalid_request');
    else expect(res.status).toBe(400);
    expect(location).not.toContain('/oauth/interaction/');
  });

  // @control FAPI2-AS-CODE-LIFETIME, FAPI2-AS-PKCE, FAPI2-AS-REDIRECT
  it('refusals at the token endpoint: a reused code, an expired code, a wrong verifier, a wrong redirect URI', async () => {
    // Each refusal's reason is in the server's log (the client gets only invalid_grant).
    const grantErrors = () =>
      s.logs.map((l) => JSON.parse(l) as { event?: string; reason?: string }).filter((l) => l.event === 'oidc.grant.error');
    const before = grantErrors().length;
    const one = await signIn('ada@acme.example', 'accounts:read');
    const dpop = await newDpopKey();
    expect((await exchangeCode(s, app, one.code!, one.verifier, dpop)).status).toBe(200);
    const reused = await exchangeCode(s, app, one.code!, one.verifier, dpop);
    expect({ status: reused.status, error: reused.body.error }).toEqual({ status: 400, error: 'invalid_grant' });

    const two = await signIn('ada@acme.example', 'accounts:read');
    // Expire it where it is stored (60 s TTL): no waiting in tests.
    await s.database.db.run("UPDATE oidc_payloads SET expires_at = 1 WHERE model = 'AuthorizationCode' AND id = $1", [two.code!]);
    const expired = await exchangeCode(s, app, two.code!, two.verifier, dpop);
    expect({ status: expired.status, error: expired.body.error }).toEqual({ status: 400, error: 'invalid_grant' });

    const three = await signIn('ada@acme.example', 'accounts:read');
    const badVerifier = await exchangeCode(s, app, three.code!, pkce().verifier, dpop);
    expect({ status: badVerifier.status, error: badVerifier.body.error }).toEqual({ status: 400, error: 'invalid_grant' });

    const four = await signIn('ada@acme.example', 'accounts:read');
    const badRedirect = await exchangeCode(s, app, four.code!, four.verifier, dpop, { redirect_uri: 'https://client.example/other' });
    expect({ status: badRedirect.status, error: badRedirect.body.error }).toEqual({ status: 400, error: 'invalid_grant' });

    const five = await signIn('ada@acme.example', 'accounts:read');
    const noDpop = await exchangeCode(s, app, five.code!, five.verifier, undefined);
    expect({ status: noDpop.status, error: noDpop.body.error }).toEqual({ status: 400, error: 'invalid_grant' });
    expect(
      grantErrors()
        .slice(before)
        .map((l) => l.reason),
    ).toEqual([
      'authorization code already consumed',
      'authorization code not found', // an expired code is gone from the store
      'code_verifier does not match code_challenge',
      'authorization code redirect_uri mismatch',
      'DPoP proof JWT not provided',
    ]);
  });

  // @control FAPI2-RS-SENDER
  it('refusals at the API: replayed proof, proof for another method or URL, bound token without proof or as bearer, stale proof', async () => {
    const { token, dpop } = await tokenFor('ada@acme.example', 'accounts:read');
    const path = `/v1/accounts/${accountA}`;
    const call = (headers: Record<string, string>) => s.http.call(path, { headers });
    const expect401 = (res: { status: number; body: any }, code: string) =>
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code });

    const proof = await dpopProof(dpop, 'GET', `${s.url}${path}`, token);
    expect((await call({ authorization: `DPoP ${token}`, dpop: proof })).status).toBe(200);
    const replay = await call({ authorization: `DPoP ${token}`, dpop: proof });
    expect401(replay, 'invalid_dpop_proof');
    expect(String(replay.headers['www-authenticate'])).toContain('error="invalid_dpop_proof"');
    expect401(
      await call({ authorization: `DPoP ${token}`, dpop: await dpopProof(dpop, 'POST', `${s.url}${path}`, token) }),
      'invalid_dpop_proof',
    );
    expect401(
      await call({ authorization: `DPoP ${token}`, dpop: await dpopProof(dpop, 'GET', `${s.url}/v1/accounts/${accountB}`, token) }),
      'invalid_dpop_proof',
    );
    expect401(await call({ authorization: `DPoP ${token}`, dpop: await dpopProof(dpop, 'GET', `${s.url}${path}`) }), 'invalid_dpop_proof'); // no ath
    expect401(
      await call({ authorization: `DPoP ${token}`, dpop: await dpopProof(await newDpopKey(), 'GET', `${s.url}${path}`, token) }),
      'invalid_dpop_proof',
    ); // other key
    expect401(
      await call({
        authorization: `DPoP ${token}`,
        dpop: await dpopProof(dpop, 'GET', `${s.url}${path}`, token, Math.floor(Date.now() / 1000) - 600),
      }),
      'invalid_dpop_proof',
    );
    expect401(await call({ authorization: `DPoP ${token}` }), 'invalid_dpop_proof');
    const asBearer = await call({ authorization: `Bearer ${token}` });
    expect401(asBearer, 'invalid_token');
    // The challenge says what is missing: the DPoP scheme and a proof.
    expect(String(asBearer.headers['www-authenticate'])).toBe(
      'DPoP algs="ES256 PS256 EdDSA", error="invalid_token", error_description="DPoP-bound token requires the DPoP scheme and a proof"',
    );
    expect401(
      await call({ authorization: `Bearer ${token}`, dpop: await dpopProof(dpop, 'GET', `${s.url}${path}`, token) }),
      'invalid_token',
    );
  });

  // @control FAPI2-RS-ENTITY, OWASP-API1, OWASP-API5
  it('roles: a customer sees only its own data (404), an operator moves no money (403), an auditor reads no customers (403)', async () => {
    const ada = await tokenFor('ada@acme.example', 'accounts:read customers:read transfers:write');
    expect((await api(`/v1/accounts/${accountA}`, ada.token, ada.dpop)).status).toBe(200);
    const foreign = await api(`/v1/accounts/${accountB}`, ada.token, ada.dpop);
    expect({ status: foreign.status, code: foreign.body.code }).toEqual({ status: 404, code: 'not_found' });
    const foreignCustomer = await api(`/v1/customers/${customerB}`, ada.token, ada.dpop);
    expect({ status: foreignCustomer.status, code: foreignCustomer.body.code }).toEqual({ status: 404, code: 'not_found' });
    // A customer moves money out of its own accounts only (and the server keeps serving after it).
    const own = await api('/v1/transfers', ada.token, ada.dpop, 'POST', {
      source_account_id: accountA,
      destination_account_id: accountB,
      amount: 100,
      currency: 'EUR',
    });
    expect([own.status, own.body.amount]).toEqual([201, 100]);
    const stolen = await api('/v1/transfers', ada.token, ada.dpop, 'POST', {
      source_account_id: accountB,
      destination_account_id: accountA,
      amount: 1,
      currency: 'EUR',
    });
    expect({ status: stolen.status, code: stolen.body.code }).toEqual({ status: 404, code: 'not_found' });
    expect((await api(`/v1/accounts/${accountA}`, ada.token, ada.dpop)).body.balance.available).toBe(900);
    // Two end users of one app choosing the same Idempotency-Key: each gets its own transfer,
    // never the other's stored answer.
    const first = await api(
      '/v1/transfers',
      ada.token,
      ada.dpop,
      'POST',
      { source_account_id: accountA, destination_account_id: accountB, amount: 7, currency: 'EUR' },
      'same-key',
    );
    const bob = await tokenFor('bob@acme.example', 'accounts:read transfers:write');
    const second = await api(
      '/v1/transfers',
      bob.token,
      bob.dpop,
      'POST',
      { source_account_id: accountB, destination_account_id: accountA, amount: 7, currency: 'EUR' },
      'same-key',
    );
    expect([first.status, second.status, second.headers['idempotent-replayed']]).toEqual([201, 201, undefined]);
    expect(second.body.id).not.toBe(first.body.id);
    expect(second.body.source_account_id).toBe(accountB);

    // A fresh operator (TOTP enrolment on the way): the consent page lists transfers:write as not
    // available to the role, and the token cannot move money.
    const created = await s.server.services.identity.users.create({
      tenant: 'acme',
      email: 'otto@acme.example',
      password: PASSWORD,
      role: 'operator',
    });
    enrolmentCodes.set('otto@acme.example', created.enrolment_code!);
    const otto = await signIn('otto@acme.example', 'accounts:read transfers:write');
    expect(otto.pages.find((p) => p.includes('Allow access?'))).toMatch(/Not available to your role[\s\S]*transfers:write/);
    const dpop = await newDpopKey();
    const t = (await exchangeCode(s, app, otto.code!, otto.verifier, dpop)).body.access_token as string;
    expect((await api(`/v1/accounts/${accountB}`, t, dpop)).status).toBe(200); // reads the whole tenant
    const transfer = await api('/v1/transfers', t, dpop, 'POST', {
      source_account_id: accountA,
      destination_account_id: accountB,
      amount: 1,
      currency: 'EUR',
    });
    expect({ status: transfer.status, code: transfer.body.code }).toEqual({ status: 403, code: 'insufficient_scope' });

    const aude = await tokenFor('aude@acme.example', 'audit:read customers:read');
    const customers = await api(`/v1/customers/${customerA}`, aude.token, aude.dpop);
    expect({ status: customers.status, code: customers.body.code }).toEqual({ status: 403, code: 'insufficient_scope' });
  });
});
