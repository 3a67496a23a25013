// Exact answers to bad requests (issue 2, "What it must show"), on both engines.
import { SignJWT, UnsecuredJWT, importJWK, decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPlatformSecrets } from '../../src/crypto/platform-secrets.js';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { describeEngines } from '../support/databases.js';
import { startTestServer, type TestServer } from './harness.js';

describeEngines('API security answers', (engine) => {
  let s: TestServer;
  let acme: Awaited<ReturnType<TestServer['newClient']>>;
  let globex: Awaited<ReturnType<TestServer['newClient']>>;
  let customerId: string;
  let accountA: string;
  let accountB: string;

  const idem = () => ({ 'idempotency-key': `k-${Math.random().toString(36).slice(2)}` });

  beforeAll(async () => {
    s = await startTestServer(engine);
    acme = await s.newClient('acme');
    globex = await s.newClient('globex');
    const cus = await s.http.call('/v1/customers', { token: acme.token, body: { full_name: 'Ada Lovelace', email: 'ada@example.com' } });
    customerId = cus.body.id;
    accountA = (await s.http.call('/v1/accounts', { token: acme.token, body: { customer_id: customerId, currency: 'EUR' } })).body.id;
    accountB = (await s.http.call('/v1/accounts', { token: acme.token, body: { customer_id: customerId, currency: 'EUR' } })).body.id;
    const dep = await s.http.call('/v1/deposits', {
      token: acme.token,
      headers: idem(),
      body: { account_id: accountA, amount: 10000, currency: 'EUR', reference: 'seed' },
    });
    expect(dep.status).toBe(201);
  });
  afterAll(async () => s?.close());

  async function balances() {
    const a = await s.http.call(`/v1/accounts/${accountA}`, { token: acme.token });
    const b = await s.http.call(`/v1/accounts/${accountB}`, { token: acme.token });
    return [a.body.balance.available, b.body.balance.available];
  }

  function expectProblem(res: { status: number; headers: Record<string, unknown>; body: any }, status: number, code: string) {
    expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.request_id).toBe(res.headers['x-request-id']);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(js|ts):\d+|SELECT|node_modules/);
  }

  /** A token signed with the server's real signing key, claims of our choosing. */
  async function forge(claims: Record<string, unknown>, alg = 'ES256') {
    const master = loadMasterKey(`${s.dataDir}/master.key`, { create: false });
    const jwks = JSON.parse(
      await createPlatformSecrets(s.database.db, master).getOrCreate('oidc-jwks', () => {
        throw new Error('missing');
      }),
    );
    const jwk = jwks.keys.find((k: { alg?: string; kty: string }) => (k.alg ?? (k.kty === 'EC' ? 'ES256' : '')) === alg);
    const key = await importJWK(jwk, alg);
    const real = decodeJwt(acme.token);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...real, iat: now, exp: now + 300, ...claims }).setProtectedHeader({ alg, typ: 'at+jwt', kid: jwk.kid }).sign(key);
  }

  // @control FAPI2-RS-ERRORS, OWASP-API2
  it('refuses a request without a token: 401 invalid_token with WWW-Authenticate', async () => {
    const res = await s.http.call(`/v1/accounts/${accountA}`);
    expectProblem(res, 401, 'invalid_token');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="vaultgate"/);
  });

  it('accepts a token forged with the real key and valid claims (the forge is sound)', async () => {
    const res = await s.http.call(`/v1/accounts/${accountA}`, { token: await forge({}) });
    expect(res.status).toBe(200);
  });

  // @control FAPI2-RS-VALIDATE, OWASP-API2
  it('refuses an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await s.http.call(`/v1/accounts/${accountA}`, { token: await forge({ iat: now - 1200, exp: now - 600 }) });
    expectProblem(res, 401, 'invalid_token');
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  // @control FAPI2-RS-VALIDATE, OWASP-API2
  it('refuses a tampered token (payload changed, signature kept)', async () => {
    const [h, p, sig] = acme.token.split('.');
    const payload = JSON.parse(Buffer.from(p as string, 'base64url').toString());
    payload.tenant_id = globex.tenantId;
    const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
    expectProblem(await s.http.call(`/v1/accounts/${accountA}`, { token: tampered }), 401, 'invalid_token');
  });

  it('refuses a token of a foreign issuer, even signed with the real key', async () => {
    const res = await s.http.call(`/v1/accounts/${accountA}`, { token: await forge({ iss: 'https://evil.example' }) });
    expectProblem(res, 401, 'invalid_token');
  });

  // @control FAPI2-RS-VALIDATE
  it('refuses a token for another audience', async () => {
    const res = await s.http.call(`/v1/accounts/${accountA}`, { token: await forge({ aud: 'https://other.example' }) });
    expectProblem(res, 401, 'invalid_token');
  });

  // @control FAPI2-CRYPTO-ALGS, OWASP-API2
  it('refuses alg:none, HMAC-signed and foreign-key tokens', async () => {
    const claims = decodeJwt(acme.token);
    const none = new UnsecuredJWT({ ...claims }).setIssuedAt().setExpirationTime('5m').encode();
    expectProblem(await s.http.call(`/v1/accounts/${accountA}`, { token: none }), 401, 'invalid_token');
    const hs = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: decodeProtectedHeader(acme.token).kid as string })
      .sign(new TextEncoder().encode('a-guessable-shared-secret-of-32-bytes!'));
    expectProblem(await s.http.call(`/v1/accounts/${accountA}`, { token: hs }), 401, 'invalid_token');
    const { privateKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: decodeProtectedHeader(acme.token).kid as string })
      .sign(privateKey);
    expectProblem(await s.http.call(`/v1/accounts/${accountA}`, { token: foreign }), 401, 'invalid_token');
  });

  // @control FAPI2-RS-HEADER
  it('refuses a token in the query string', async () => {
    const res = await s.http.call(`/v1/accounts/${accountA}?access_token=${acme.token}`);
    expectProblem(res, 400, 'invalid_request');
  });

  // @control FAPI2-RS-VALIDATE, FAPI2-RS-ERRORS, OWASP-API5
  it('answers 403 insufficient_scope for a missing permission', async () => {
    const reader = await s.newClient('acme', ['accounts:read']);
    const res = await s.http.call('/v1/transfers', {
      token: reader.token,
      headers: idem(),
      body: { source_account_id: accountA, destination_account_id: accountB, amount: 1, currency: 'EUR' },
    });
    expectProblem(res, 403, 'insufficient_scope');
    expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
    expect(await balances()).toEqual([10000, 0]);
  });

  it('refuses a token request for a scope beyond the registration', async () => {
    const reader = await s.newClient('acme', ['accounts:read']);
    const res = await s.token(reader.clientId, reader.secret, 'accounts:read transfers:write');
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_scope');
  });

  // @control FAPI2-RS-ENTITY, OWASP-API1
  it("answers 404 not_found for another tenant's objects, exactly as for unknown ids", async () => {
    const unknown = await s.http.call('/v1/accounts/acc_00000000000000000000000000', { token: globex.token });
    expectProblem(unknown, 404, 'not_found');
    for (const path of [`/v1/accounts/${accountA}`, `/v1/customers/${customerId}`, `/v1/accounts/${accountA}/entries`]) {
      const res = await s.http.call(path, { token: globex.token });
      expectProblem(res, 404, 'not_found');
      expect(res.body.detail).toBe(path.startsWith('/v1/customers') ? 'Customer not found' : unknown.body.detail);
    }
    const list = await s.http.call(`/v1/accounts?customer_id=${customerId}`, { token: globex.token });
    expect(list.body.data).toEqual([]);
    const steal = await s.http.call('/v1/transfers', {
      token: globex.token,
      headers: idem(),
      body: { source_account_id: accountA, destination_account_id: accountB, amount: 100, currency: 'EUR' },
    });
    expectProblem(steal, 404, 'not_found');
    const fund = await s.http.call('/v1/deposits', {
      token: globex.token,
      headers: idem(),
      body: { account_id: accountA, amount: 100, currency: 'EUR', reference: 'x' },
    });
    expectProblem(fund, 404, 'not_found');
    expect(await balances()).toEqual([10000, 0]);
  });

  // @control OWASP-API3
  it('refuses unknown properties with 400 validation_failed naming the property', async () => {
    const res = await s.http.call('/v1/accounts', {
      token: acme.token,
      body: { customer_id: customerId, currency: 'EUR', balance: 1000000 },
    });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.detail).toContain('"balance"');
  });

  it.each([
    ['a float', '25.5'],
    ['a float with a zero fraction', '100.0'],
    ['an exponent', '1e3'],
    ['a string', '"2500"'],
    ['zero', '0'],
    ['a negative', '-5'],
    ['2^53', '9007199254740992'],
    ['far above 2^53', '123456789012345678901234567890'],
    ['null', 'null'],
  ])('refuses an amount that is %s with 400', async (_name, amount) => {
    const res = await s.http.call('/v1/transfers', {
      token: acme.token,
      headers: idem(),
      body: `{"source_account_id":"${accountA}","destination_account_id":"${accountB}","amount":${amount},"currency":"EUR"}`,
    });
    expectProblem(res, 400, 'validation_failed');
    expect(await balances()).toEqual([10000, 0]);
  });

  it('accepts the largest amount 2^53-1 as valid input (then refuses it as above the per-transfer maximum)', async () => {
    const res = await s.http.call('/v1/transfers', {
      token: acme.token,
      headers: idem(),
      body: { source_account_id: accountA, destination_account_id: accountB, amount: 9007199254740991, currency: 'EUR' },
    });
    expectProblem(res, 422, 'amount_above_maximum');
    expect(await balances()).toEqual([10000, 0]);
  });

  it('refuses a lower-case or unknown currency', async () => {
    for (const currency of ['eur', 'XYZ', 'EURO']) {
      const res = await s.http.call('/v1/accounts', { token: acme.token, body: { customer_id: customerId, currency } });
      expectProblem(res, 400, 'validation_failed');
    }
  });

  it('answers 415 for a non-JSON content type and 400 for malformed JSON', async () => {
    const form = await s.http.call('/v1/customers', {
      token: acme.token,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'full_name=x&email=y@z.io',
    });
    expectProblem(form, 415, 'unsupported_media_type');
    const text = await s.http.call('/v1/customers', { token: acme.token, headers: { 'content-type': 'text/plain' }, body: '{}' });
    expectProblem(text, 415, 'unsupported_media_type');
    const bad = await s.http.call('/v1/customers', { token: acme.token, body: '{"full_name": ' });
    expectProblem(bad, 400, 'invalid_request');
  });

  // @control OWASP-API3
  it('refuses prototype pollution attempts', async () => {
    const res = await s.http.call('/v1/customers', {
      token: acme.token,
      body: '{"full_name":"x","email":"x@example.com","__proto__":{"admin":true}}',
    });
    expect(res.status).toBe(400);
  });

  // @control OWASP-API4
  it('answers 413 for an oversized body', async () => {
    const res = await s.http.call('/v1/customers', {
      token: acme.token,
      body: { full_name: 'x'.repeat(64 * 1024), email: 'big@example.com' },
    });
    expectProblem(res, 413, 'payload_too_large');
  });

  it('refuses an overdraft with 422 insufficient_funds and leaves both balances unchanged', async () => {
    const res = await s.http.call('/v1/transfers', {
      token: acme.token,
      headers: idem(),
      body: { source_account_id: accountA, destination_account_id: accountB, amount: 10001, currency: 'EUR' },
    });
    expectProblem(res, 422, 'insufficient_funds');
    expect(await balances()).toEqual([10000, 0]);
  });

  it('refuses same_account, currency_mismatch and a missing Idempotency-Key', async () => {
    const same = await s.http.call('/v1/transfers', {
      token: acme.token,
      headers: idem(),
      body: { source_account_id: accountA, destination_account_id: accountA, amount: 1, currency: 'EUR' },
    });
    expectProblem(same, 422, 'same_account');
    const usd = (await s.http.call('/v1/accounts', { token: acme.token, body: { customer_id: customerId, currency: 'USD' } })).body.id;
    const mismatch = await s.http.call('/v1/transfers', {
      token: acme.token,
      headers: idem(),
      body: { source_account_id: accountA, destination_account_id: usd, amount: 1, currency: 'EUR' },
    });
    expectProblem(mismatch, 422, 'currency_mismatch');
    const noKey = await s.http.call('/v1/transfers', {
      token: acme.token,
      body: { source_account_id: accountA, destination_account_id: accountB, amount: 1, currency: 'EUR' },
    });
    expectProblem(noKey, 400, 'validation_failed');
    expect(noKey.body.detail).toContain('Idempotency-Key');
    expect(await balances()).toEqual([10000, 0]);
  });

  // @control FAPI2-RS-VALIDATE, PCI-8.6.3
  it('stops every token of a revoked client at once', async () => {
    const doomed = await s.newClient('acme', ['accounts:read']);
    expect((await s.http.call(`/v1/accounts/${accountA}`, { token: doomed.token })).status).toBe(200);
    await s.server.services.identity.clients.revoke(doomed.clientId);
    expectProblem(await s.http.call(`/v1/accounts/${accountA}`, { token: doomed.token }), 401, 'invalid_token');
    const again = await s.token(doomed.clientId, doomed.secret, 'accounts:read');
    expect(again.status).toBe(401);
  });

  // @control OWASP-API8
  it('sends the security headers of docs/contract.md §3 on answers and errors', async () => {
    for (const res of [await s.http.call(`/v1/accounts/${accountA}`, { token: acme.token }), await s.http.call('/v1/nowhere')]) {
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});
