// The FAPI 2.0 Security Profile rules of the authorization server that the end-to-end run does not
// already exercise: PAR only with client authentication, short-lived request URIs, client
// assertions audienced to the issuer alone, and authorization codes bound to the DPoP key.
import { calculateJwkThumbprint, SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeEngines } from '../support/databases.js';
import {
  Browser,
  REDIRECT_URI,
  authorize,
  exchangeCode,
  newDpopKey,
  par,
  pkce,
  registerFapiClient,
  type FapiClient,
} from './fapi-client.js';

const PASSWORD = 'correct horse battery staple';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const form = (o: Record<string, string>) => new URLSearchParams(o).toString();

describeEngines('FAPI 2.0 Security Profile: authorization server rules', (engine) => {
  let s: TestServer;
  let app: FapiClient;

  beforeAll(async () => {
    s = await startTestServer(engine);
    const svc = await s.newClient('acme');
    const customer = (await s.http.call('/v1/customers', { token: svc.token, body: { full_name: 'Ada A', email: 'a@example.com' } })).body
      .id;
    await s.server.services.identity.users.create({
      tenant: 'acme',
      email: 'ada@acme.example',
      password: PASSWORD,
      role: 'customer',
      customerId: customer,
    });
    app = await registerFapiClient(s, 'acme', ['accounts:read']);
  });
  afterAll(async () => s?.close());

  const request = (challenge: string) => ({
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid accounts:read',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });

  // @control FAPI2-AS-PAR-AUTH
  it('refuses a pushed authorization request without client authentication', async () => {
    const res = await s.http.call('/oauth/par', {
      method: 'POST',
      headers: FORM,
      body: form({ client_id: app.clientId, ...request(pkce().challenge) }),
    });
    expect({ status: res.status, error: res.body.error }).toEqual({ status: 401, error: 'invalid_client' });
  });

  // @control FAPI2-AS-REQUEST-URI
  it('hands out a request_uri that lives less than 600 s and serves one authorization only', async () => {
    const pushed = await par(s, app, request(pkce().challenge));
    expect(pushed.status).toBe(201);
    expect(pushed.body.expires_in).toBeGreaterThan(0);
    expect(pushed.body.expires_in).toBeLessThan(600);
    const first = await authorize(s, new Browser(s), app.clientId, pushed.body.request_uri, {
      email: 'ada@acme.example',
      password: PASSWORD,
    });
    expect(first.code).toBeDefined();
    const again = await new Browser(s).request(
      `/oauth/authorize?${form({ client_id: app.clientId, request_uri: pushed.body.request_uri })}`,
    );
    expect(String(again.headers.location ?? '')).not.toContain('/oauth/interaction/');
    expect(again.status === 400 || String(again.headers.location).includes('error=')).toBe(true);
  });

  // @control FAPI2-AS-ASSERTION-AUDIENCE
  it('accepts a client assertion audienced to the issuer only: the token endpoint URL as aud is refused', async () => {
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(app.clientId)
      .setSubject(app.clientId)
      .setAudience(`${s.url}/oauth/par`)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(app.key);
    const res = await s.http.call('/oauth/par', {
      method: 'POST',
      headers: FORM,
      body: form({
        client_id: app.clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
        ...request(pkce().challenge),
      }),
    });
    expect({ status: res.status, error: res.body.error }).toEqual({ status: 401, error: 'invalid_client' });
  });

  // @control PCI-8.6.1
  it('a service client (client_credentials) cannot start an interactive sign-in', async () => {
    const svc = await s.newClient('acme');
    const res = await s.http.call('/oauth/par', {
      method: 'POST',
      headers: { ...FORM, authorization: `Basic ${Buffer.from(`${svc.clientId}:${svc.secret}`).toString('base64')}` },
      body: form({ client_id: svc.clientId, ...request(pkce().challenge) }),
    });
    expect({ status: res.status, error: res.body.error, request_uri: res.body.request_uri }).toEqual({
      status: 400,
      error: 'invalid_request',
      request_uri: undefined,
    });
    expect(res.body.error_description).toBe('requested response_type is not allowed for this client');
  });

  // @control FAPI2-AS-DPOP-CODE-BINDING
  it('binds the authorization code to the DPoP key named at PAR (dpop_jkt): another key cannot redeem it, the named one can', async () => {
    const bound = await newDpopKey();
    const codeBoundTo = async () => {
      const { verifier, challenge } = pkce();
      const pushed = await par(s, app, { ...request(challenge), dpop_jkt: await calculateJwkThumbprint(bound.jwk) });
      expect(pushed.status).toBe(201);
      const { code } = await authorize(s, new Browser(s), app.clientId, pushed.body.request_uri, {
        email: 'ada@acme.example',
        password: PASSWORD,
      });
      return { code: code!, verifier };
    };
    const first = await codeBoundTo();
    const stolen = await exchangeCode(s, app, first.code, first.verifier, await newDpopKey());
    expect({ status: stolen.status, error: stolen.body.error, token: stolen.body.access_token }).toEqual({
      status: 400,
      error: 'invalid_grant',
      token: undefined,
    });
    const second = await codeBoundTo();
    const own = await exchangeCode(s, app, second.code, second.verifier, bound);
    expect({ status: own.status, type: own.body.token_type }).toEqual({ status: 200, type: 'DPoP' });
  });
});
