// Payment consents end to end (issue 15, docs/contract.md §10), with a real FAPI client
// (private_key_jwt, PAR, PKCE, DPoP) through the real authorization server and the real ledger:
// PAR with authorization_details → sign-in → the consent page states the payment → token carrying
// the consent → the matching transfer posts once; the same again is consent_exhausted, another
// payee or a larger amount consent_mismatch, with nothing posted; 20 concurrent uses → exactly one
// posts; revocation and expiry end the grant; every bad detail is refused at PAR.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEngines } from '../support/databases.js';
import { eventually } from '../support/eventually.js';
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
  type DpopKey,
  type FapiClient,
} from '../fapi/fapi-client.js';

const PASSWORD = 'correct horse battery staple';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describeEngines('payment consents', (engine) => {
  let s: TestServer;
  let app: FapiClient;
  let svcToken: string;
  let auditorToken: string;
  let adaAccount: string;
  let adaSecond: string;
  let bobAccount: string;
  let carolAccount: string;
  let foreignAccount: string;
  let jpyAccount: string;

  beforeAll(async () => {
    s = await startTestServer(engine);
    const svc = await s.newClient('acme');
    svcToken = svc.token;
    auditorToken = (await s.newClient('acme', ['audit:read'])).token;
    const call = (path: string, body: object, key?: string) =>
      s.http.call(path, { token: svc.token, body, ...(key ? { headers: { 'idempotency-key': key } } : {}) });
    const customer = async (name: string) =>
      (await call('/v1/customers', { full_name: name, email: `${name}@example.com` })).body.id as string;
    const account = async (customerId: string, currency = 'EUR') =>
      (await call('/v1/accounts', { customer_id: customerId, currency })).body.id as string;
    const ada = await customer('ada');
    const bob = await customer('bob');
    const carol = await customer('carol');
    adaAccount = await account(ada);
    adaSecond = await account(ada);
    bobAccount = await account(bob);
    carolAccount = await account(carol);
    jpyAccount = await account(bob, 'JPY');
    await call('/v1/deposits', { account_id: adaAccount, amount: 100_000, currency: 'EUR', reference: 'fund' }, 'fund-ada');
    await call('/v1/deposits', { account_id: adaSecond, amount: 100_000, currency: 'EUR', reference: 'fund' }, 'fund-ada-2');
    const other = await s.newClient('other');
    const otherCustomer = (await s.http.call('/v1/customers', { token: other.token, body: { full_name: 'Olaf', email: 'o@example.com' } }))
      .body.id as string;
    foreignAccount = (await s.http.call('/v1/accounts', { token: other.token, body: { customer_id: otherCustomer, currency: 'EUR' } })).body
      .id as string;
    const users = s.server.services.identity.users;
    await users.create({ tenant: 'acme', email: 'ada@acme.example', password: PASSWORD, role: 'customer', customerId: ada });
    await users.create({ tenant: 'acme', email: 'bob@acme.example', password: PASSWORD, role: 'customer', customerId: bob });
    await users.create({ tenant: 'acme', email: 'aude@acme.example', password: PASSWORD, role: 'auditor' });
    app = await registerFapiClient(s, 'acme', ['accounts:read', 'transfers:read', 'transfers:write', 'consents:read', 'consents:write']);
  });
  afterAll(async () => s?.close());

  const payment = (over: Record<string, unknown> = {}) => ({
    type: 'payment_initiation',
    instructed_amount: { currency: 'EUR', amount: '25.00' },
    creditor_account_id: bobAccount,
    debtor_account_id: adaAccount,
    ...over,
  });

  async function pushed(details: unknown, scope = 'openid transfers:write') {
    const { verifier, challenge } = pkce();
    const res = await par(s, app, {
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...(details === undefined ? {} : { authorization_details: typeof details === 'string' ? details : JSON.stringify(details) }),
    });
    return { res, verifier };
  }

  /** PAR → sign-in → consent → code → DPoP-bound token. */
  async function consentToken(email: string, details: unknown, scope?: string) {
    const { res, verifier } = await pushed(details, scope);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const result = await authorize(s, new Browser(s), app.clientId, res.body.request_uri as string, { email, password: PASSWORD });
    if (!result.code) return { ...result, token: undefined, refreshToken: undefined, dpop: undefined, authorizationDetails: undefined };
    const dpop = await newDpopKey();
    const tokens = await exchangeCode(s, app, result.code, verifier, dpop);
    expect(tokens.status).toBe(200);
    return {
      ...result,
      token: tokens.body.access_token as string,
      refreshToken: tokens.body.refresh_token as string,
      dpop,
      authorizationDetails: tokens.body.authorization_details as unknown,
    };
  }

  async function api(path: string, token: string, dpop: DpopKey, method = 'GET', body?: unknown, key = `k-${Math.random()}`) {
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

  const balance = async (id: string) => (await s.http.call(`/v1/accounts/${id}`, { token: svcToken })).body.balance.available as number;
  const transfer = (over: Record<string, unknown> = {}) => ({
    source_account_id: adaAccount,
    destination_account_id: bobAccount,
    amount: 2500,
    currency: 'EUR',
    ...over,
  });
  /** Each of these audit actions was recorded with the consent as its target (on PostgreSQL, readable once sealed). */
  async function audited(consentId: string, actions: string[]) {
    await eventually(
      async () => {
        for (const action of actions) {
          const res = await s.http.call(`/v1/audit-events?action=${action}&limit=100`, { token: auditorToken });
          expect(res.status).toBe(200);
          if (!(res.body.data as { target: string | null }[]).some((e) => e.target === consentId)) return false;
        }
        return true;
      },
      `audit events ${actions.join(', ')} of ${consentId}`,
    );
  }
  const jwtPayload = (token: string) =>
    JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

  it('discovery lists payment_initiation as the one authorization details type', async () => {
    const res = await s.http.call('/.well-known/openid-configuration');
    expect(res.body.authorization_details_types_supported).toEqual(['payment_initiation']);
  });

  // @control FAPI2-RAR-PAYMENT
  it('the whole flow: PAR with the payment → consent page in words → token → one matching transfer posts, once', async () => {
    const before = { ada: await balance(adaAccount), bob: await balance(bobAccount), carol: await balance(carolAccount) };
    const flow = await consentToken('ada@acme.example', [payment()]);
    const consentPage = flow.pages.find((p) => p.includes('Allow this payment?'));
    expect(consentPage).toBeDefined();
    expect(consentPage).toContain('<strong>25.00 EUR</strong>');
    expect(consentPage).toContain(`<code id="payment-creditor">${bobAccount}</code>`);
    expect(consentPage).toContain(`<code id="payment-debtor">${adaAccount}</code>`);
    expect(consentPage).toContain('Once.');

    // The access token and the token response carry the granted detail with its consent.
    const claims = jwtPayload(flow.token!);
    const [detail] = claims.authorization_details as Record<string, unknown>[];
    const consentId = detail!.consent_id as string;
    expect(consentId).toMatch(/^con_[0-9a-z]{26}$/);
    expect(detail).toEqual({ ...payment(), consent_id: consentId });
    expect(flow.authorizationDetails).toEqual([detail]);

    // Introspection carries it too.
    const introspection = await s.http.call('/oauth/introspect', {
      method: 'POST',
      headers: FORM,
      body: new URLSearchParams({ ...(await clientAuthParams(app, s.url)), token: flow.token! }).toString(),
    });
    expect(introspection.status).toBe(200);
    expect(introspection.body.active).toBe(true);
    expect(introspection.body.authorization_details).toEqual([detail]);

    // Outside the consent: refused, nothing posted.
    const otherPayee = await api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer({ destination_account_id: carolAccount }));
    expect(otherPayee.status).toBe(403);
    expect(otherPayee.body.code).toBe('consent_mismatch');
    const larger = await api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer({ amount: 2501 }));
    expect(larger.body.code).toBe('consent_mismatch');
    const otherDebtor = await api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer({ source_account_id: adaSecond }));
    expect(otherDebtor.body.code).toBe('consent_mismatch');
    // Nothing else either: the token makes its payment and calls nothing else.
    const read = await api(`/v1/accounts/${adaAccount}`, flow.token!, flow.dpop!);
    expect(read.status).toBe(403);
    expect(read.body.code).toBe('consent_mismatch');
    const list = await api('/v1/consents', flow.token!, flow.dpop!);
    expect(list.body.code).toBe('consent_mismatch');

    // The matching transfer posts, with its signed receipt.
    const posted = await api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer(), 'pay-once');
    expect(posted.status).toBe(201);
    expect(posted.headers['content-digest']).toMatch(/^sha-256=:/);
    expect(String(posted.headers['signature-input'])).toContain('tag="vaultgate-receipt"');
    // An idempotent replay is the same answer, not a second use.
    const replay = await api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer(), 'pay-once');
    expect(replay.status).toBe(201);
    expect(replay.body.id).toBe(posted.body.id);

    // The same again: used up. Another payee or more: still outside it.
    const again = await api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer());
    expect(again.status).toBe(403);
    expect(again.body.code).toBe('consent_exhausted');
    expect(
      (await api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer({ destination_account_id: carolAccount }))).body.code,
    ).toBe('consent_mismatch');
    expect((await api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer({ amount: 5000 }))).body.code).toBe('consent_mismatch');

    expect(await balance(adaAccount)).toBe(before.ada - 2500);
    expect(await balance(bobAccount)).toBe(before.bob + 2500);
    expect(await balance(carolAccount)).toBe(before.carol);

    // Ada sees it spent on that transfer (through the same app, with a token of her own).
    const own = await consentToken('ada@acme.example', undefined, 'openid consents:read');
    const mine = await api(`/v1/consents/${consentId}`, own.token!, own.dpop!);
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ id: consentId, status: 'consumed', transfer_id: posted.body.id, client_id: app.clientId });
    expect(mine.body.instructed_amount).toEqual({ currency: 'EUR', amount: '25.00' });

    await audited(consentId, ['auth.consent', 'consent.grant', 'consent.consume']);
  });

  // @control FAPI2-RAR-PAYMENT
  it('20 concurrent uses of one consent: exactly one posts, the others are consent_exhausted', async () => {
    const before = await balance(adaAccount);
    const flow = await consentToken('ada@acme.example', [payment({ instructed_amount: { currency: 'EUR', amount: '7.00' } })]);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer({ amount: 700 }), `race-${i}`)),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((x) => x === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 403 && r.body.code === 'consent_exhausted')).toHaveLength(19);
    expect(await balance(adaAccount)).toBe(before - 700);
  });

  it('a consent without a debtor: any account of the customer pays, an account of another customer does not', async () => {
    const { debtor_account_id: _omitted, ...noDebtor } = payment({ instructed_amount: { currency: 'EUR', amount: '3.00' } });
    const flow = await consentToken('ada@acme.example', [noDebtor]);
    expect(flow.pages.some((p) => p.includes('one of your accounts, chosen by'))).toBe(true);
    const foreign = await api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer({ source_account_id: carolAccount, amount: 300 }));
    expect(foreign.status).toBe(404);
    const before = await balance(adaSecond);
    const posted = await api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer({ source_account_id: adaSecond, amount: 250 }));
    expect(posted.status).toBe(201);
    expect(await balance(adaSecond)).toBe(before - 250);
  });

  it('revocation by the customer ends the grant: the consent token and its refresh token stop at once', async () => {
    const flow = await consentToken('ada@acme.example', [payment()]);
    const consentId = (jwtPayload(flow.token!).authorization_details as { consent_id: string }[])[0]!.consent_id;
    const own = await consentToken('ada@acme.example', undefined, 'openid consents:read consents:write');
    const listed = await api('/v1/consents?limit=100', own.token!, own.dpop!);
    expect(listed.status).toBe(200);
    expect(listed.body.data.find((c: { id: string }) => c.id === consentId)?.status).toBe('authorised');

    // Bob sees none of Ada's consents and cannot revoke hers.
    const bob = await consentToken('bob@acme.example', undefined, 'openid consents:read consents:write');
    const bobs = await api('/v1/consents?limit=100', bob.token!, bob.dpop!);
    expect(bobs.body.data.some((c: { id: string }) => c.id === consentId)).toBe(false);
    expect((await api(`/v1/consents/${consentId}`, bob.token!, bob.dpop!, 'DELETE')).status).toBe(404);

    const revoked = await api(`/v1/consents/${consentId}`, own.token!, own.dpop!, 'DELETE');
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');
    const after = await api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer());
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('invalid_token');
    const refresh = await s.http.call('/oauth/token', {
      method: 'POST',
      headers: { ...FORM, dpop: await dpopProof(flow.dpop!, 'POST', `${s.url}/oauth/token`) },
      body: new URLSearchParams({
        ...(await clientAuthParams(app, s.url)),
        grant_type: 'refresh_token',
        refresh_token: flow.refreshToken!,
      }).toString(),
    });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error).toBe('invalid_grant');
    // Ada's own token, of another grant, still works; revoking twice is a conflict.
    const twice = await api(`/v1/consents/${consentId}`, own.token!, own.dpop!, 'DELETE');
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe('conflict');
    await audited(consentId, ['consent.revoke']);
  });

  it('an expired consent pays nothing (consent_expired); the sweeper marks it and ends its grant', async () => {
    const flow = await consentToken('ada@acme.example', [payment()]);
    const consentId = (jwtPayload(flow.token!).authorization_details as { consent_id: string }[])[0]!.consent_id;
    await s.database.db.run('UPDATE consents SET expires_at = $1 WHERE id = $2', [Date.now() - 1, consentId]);
    const late = await api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer());
    expect(late.status).toBe(403);
    expect(late.body.code).toBe('consent_expired');
    expect(await s.server.services.consents.expireDue()).toBeGreaterThanOrEqual(1);
    const gone = await api('/v1/transfers', flow.token!, flow.dpop!, 'POST', transfer());
    expect(gone.status).toBe(401);
    await audited(consentId, ['consent.expire']);
  });

  it('a debtor account that is not the signed-in customer’s ends the authorization with invalid_authorization_details', async () => {
    const flow = await consentToken('bob@acme.example', [payment({ creditor_account_id: carolAccount })]);
    expect(flow.code).toBeUndefined();
    expect(new URL(flow.location).searchParams.get('error')).toBe('invalid_authorization_details');
  });

  it('a staff user cannot consent to a payment (access_denied)', async () => {
    const flow = await consentToken('aude@acme.example', [payment()]);
    expect(flow.code).toBeUndefined();
    expect(new URL(flow.location).searchParams.get('error')).toBe('access_denied');
  });

  describe('refused at PAR with invalid_authorization_details', () => {
    const cases: [string, () => unknown, string?][] = [
      ['not JSON', () => '[{"type":'],
      ['an unknown type', () => [{ type: 'account_information' }]],
      ['a detail without type', () => [{ instructed_amount: { currency: 'EUR', amount: '1.00' } }]],
      ['an amount with one decimal', () => [payment({ instructed_amount: { currency: 'EUR', amount: '25.0' } })]],
      ['an amount without decimals in EUR', () => [payment({ instructed_amount: { currency: 'EUR', amount: '25' } })]],
      ['an amount as a number', () => [payment({ instructed_amount: { currency: 'EUR', amount: 25 } })]],
      ['a zero amount', () => [payment({ instructed_amount: { currency: 'EUR', amount: '0.00' } })]],
      ['a negative amount', () => [payment({ instructed_amount: { currency: 'EUR', amount: '-1.00' } })]],
      ['decimals in JPY', () => [payment({ instructed_amount: { currency: 'JPY', amount: '10.00' } })]],
      ['an unknown currency', () => [payment({ instructed_amount: { currency: 'XYZ', amount: '1.00' } })]],
      ['a currency the creditor account is not in', () => [payment({ instructed_amount: { currency: 'USD', amount: '1.00' } })]],
      ['a creditor in another tenant', () => [payment({ creditor_account_id: foreignAccount })]],
      ['a debtor in another tenant', () => [payment({ debtor_account_id: foreignAccount })]],
      ['a creditor that does not exist', () => [payment({ creditor_account_id: 'acc_00000000000000000000000000' })]],
      ['an unknown field', () => [payment({ remittance: 'x' })]],
      ['two payments', () => [payment(), payment()]],
      ['no transfers:write scope', () => [payment()], 'openid accounts:read'],
    ];
    for (const [name, details, scope] of cases) {
      it(name, async () => {
        const { res } = await pushed(details(), scope);
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_authorization_details');
      });
    }

    it('JPY with no decimals is accepted', async () => {
      const { res } = await pushed([
        payment({ instructed_amount: { currency: 'JPY', amount: '1200' }, creditor_account_id: jpyAccount, debtor_account_id: undefined }),
      ]);
      expect(res.status).toBe(201);
    });

    it('a service client cannot ask for authorization details at the token endpoint', async () => {
      const svc = await s.newClient('acme', ['transfers:write']);
      const res = await s.http.call('/oauth/token', {
        method: 'POST',
        headers: { ...FORM, authorization: `Basic ${Buffer.from(`${svc.clientId}:${svc.secret}`).toString('base64')}` },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'transfers:write',
          authorization_details: JSON.stringify([payment()]),
        }).toString(),
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_authorization_details');
    });
  });
});
