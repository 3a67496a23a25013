// Certificate-bound tokens (RFC 8705) against the real server with VAULTGATE_TLS_CLIENT_CA, and
// access tokens of an external OIDC issuer (a second local HTTPS issuer: discovery + JWKS).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, generateKeyPair, type CryptoKey } from 'jose';
import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { startTestIdp, type TestIdp } from '../support/test-idp.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-mtls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function issue(cn: string, ca?: { key: string; cert: string }) {
  const isCa = ca === undefined;
  return selfsigned.generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ...(ca ? { ca } : {}),
    extensions: isCa
      ? [
          { name: 'basicConstraints', cA: true },
          { name: 'keyUsage', keyCertSign: true, digitalSignature: true },
        ]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true },
          { name: 'extKeyUsage', clientAuth: true },
        ],
  });
}

function call(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; cert?: { cert: string; key: string }; ca: Buffer },
) {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, ca: opts.ca, ...(opts.cert ?? {}), agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

describe('certificate-bound tokens (mTLS, RFC 8705)', () => {
  let s: TestServer;
  let good: { cert: string; key: string };
  let other: { cert: string; key: string };
  let ca: Buffer;

  beforeAll(async () => {
    const root = await issue('vaultgate test CA');
    writeFileSync(path.join(dir, 'ca.pem'), root.cert);
    const a = await issue('svc.acme', { key: root.private, cert: root.cert });
    const b = await issue('svc.acme', { key: root.private, cert: root.cert }); // same subject, other key
    good = { cert: a.cert, key: a.private };
    other = { cert: b.cert, key: b.private };
    s = await startTestServer('sqlite', { VAULTGATE_TLS_CLIENT_CA: path.join(dir, 'ca.pem') });
    ca = readFileSync(path.join(s.dataDir, 'dev-tls-cert.pem'));
  });
  afterAll(async () => s?.close());

  // @control FAPI2-AS-CLIENT-AUTH, FAPI2-AS-SENDER-CONSTRAINED, FAPI2-RS-SENDER
  it('binds the token to the client certificate; another certificate or none is refused', async () => {
    const svc = await s.newClient('acme');
    const cus = await s.http.call('/v1/customers', { token: svc.token, body: { full_name: 'Ada', email: 'ada@example.com' } });
    const client = await s.server.services.identity.clients.create({
      tenant: 'acme',
      name: 'mtls-svc',
      scopes: ['customers:read'],
      authMethod: 'tls_client_auth',
      tlsSubject: 'CN=svc.acme',
      binding: 'mtls',
    });
    const tokenRes = await call(`${s.url}/oauth/token`, {
      method: 'POST',
      ca,
      cert: good,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.client_id, scope: 'customers:read' }).toString(),
    });
    expect(tokenRes.status).toBe(200);
    const token = tokenRes.body.access_token as string;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(claims.cnf['x5t#S256']).toEqual(expect.any(String));
    const url = `${s.url}/v1/customers/${cus.body.id}`;
    const headers = { authorization: `Bearer ${token}` };
    expect((await call(url, { ca, cert: good, headers })).status).toBe(200);
    const mismatch = await call(url, { ca, cert: other, headers });
    expect({ status: mismatch.status, code: mismatch.body.code }).toEqual({ status: 401, code: 'invalid_token' });
    const none = await call(url, { ca, headers });
    expect({ status: none.status, code: none.body.code }).toEqual({ status: 401, code: 'invalid_token' });
    // Without a certificate the token endpoint refuses the mTLS client outright.
    const noCert = await call(`${s.url}/oauth/token`, {
      method: 'POST',
      ca,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.client_id, scope: 'customers:read' }).toString(),
    });
    expect(noCert.status).toBe(401);
  });
});

describe('external identity provider', () => {
  let s: TestServer;
  let idp: TestIdp;
  let issuer: string;
  let signer: CryptoKey;
  let customerId: string;

  beforeAll(async () => {
    const started = await startTestIdp(path.join(dir, 'idp'));
    ({ issuer, signer } = started);
    const certFile = started.certFile;
    idp = started;
    s = await startTestServer('sqlite', {
      VAULTGATE_EXTERNAL_ISSUER: issuer,
      VAULTGATE_EXTERNAL_AUDIENCE: 'vaultgate-api',
      VAULTGATE_EXTERNAL_CA: certFile,
      VAULTGATE_EXTERNAL_CLAIMS: 'tenant=org,role=vg_role,customer=vg_customer',
    });
    const svc = await s.newClient('acme');
    customerId = (await s.http.call('/v1/customers', { token: svc.token, body: { full_name: 'Ada', email: 'ada@example.com' } })).body.id;
  });
  afterAll(async () => {
    await s?.close();
    idp?.close();
  });

  const external = (claims: Record<string, unknown>, key = signer) =>
    new SignJWT({ org: 'acme', ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
      .setIssuer(issuer)
      .setAudience('vaultgate-api')
      .setSubject('kc-user-1')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);

  it('maps the configured claims to tenant and role; the role bundle bounds the scopes', async () => {
    const operator = await external({ vg_role: 'operator' });
    expect((await s.http.call(`/v1/customers/${customerId}`, { token: operator })).status).toBe(200);
    const auditor = await external({ vg_role: 'auditor' });
    const res = await s.http.call(`/v1/customers/${customerId}`, { token: auditor });
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 403, code: 'insufficient_scope' });
  });

  // @control FAPI2-RS-SENDER
  it('holds a sender-constrained external token to its binding: no Bearer use of a DPoP- or certificate-bound token', async () => {
    for (const cnf of [{ jkt: 'x'.repeat(43) }, { 'x5t#S256': 'y'.repeat(43) }, { unknown: 'z' }]) {
      const bound = await external({ vg_role: 'operator', cnf });
      const res = await s.http.call(`/v1/customers/${customerId}`, { token: bound });
      expect({ cnf, status: res.status, code: res.body.code }).toEqual({ cnf, status: 401, code: 'invalid_token' });
    }
  });

  it('refuses an unknown tenant, an unknown role, a wrong audience and a key it does not publish', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    for (const token of [
      await external({ vg_role: 'operator', org: 'nope' }),
      await external({ vg_role: 'root' }),
      await new SignJWT({ org: 'acme', vg_role: 'operator' })
        .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
        .setIssuer(issuer)
        .setAudience('other')
        .setSubject('x')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(signer),
      await external({ vg_role: 'operator' }, privateKey),
    ]) {
      const res = await s.http.call(`/v1/customers/${customerId}`, { token });
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code: 'invalid_token' });
    }
  });
});
