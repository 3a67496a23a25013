// The authorization server end to end over real HTTPS: discovery, client_credentials with HTTP Basic
// client authentication, RFC 9068 access tokens, and the refusals (wrong secret, scope beyond the
// registration, foreign resource, revoked client). Runs on every database engine.
import { readFileSync } from 'node:fs';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, describeEngines, type TestDatabase } from '../support/databases.js';
import { basic, httpsCall, requestToken, startHarness, type Harness } from './harness.js';

describeEngines('authorization server', (engine) => {
  let tdb: TestDatabase;
  let h: Harness;
  let client: { client_id: string; client_secret?: string; tenant_id: string };

  beforeAll(async () => {
    tdb = await createTestDatabase(engine);
    h = await startHarness(tdb.db);
    client = await h.identity.clients.create({ tenant: 'acme-bank', name: 'payments', scopes: ['accounts:read', 'transfers:write'] });
  });

  afterAll(async () => {
    await h?.close();
    await tdb?.dispose();
  });

  it('answers only the OIDC paths', () => {
    const { isOidcPath } = h.identity;
    expect(isOidcPath('/.well-known/openid-configuration')).toBe(true);
    expect(isOidcPath('/oauth/token')).toBe(true);
    expect(isOidcPath('/oauth/anything/below')).toBe(true);
    // The sign-in pages are the gateway's own routes, not handed over.
    expect(isOidcPath('/oauth/interaction/abcdefghijkl')).toBe(false);
    expect(isOidcPath('/oauth')).toBe(false);
    expect(isOidcPath('/oauthx/token')).toBe(false);
    expect(isOidcPath('/v1/accounts')).toBe(false);
    expect(isOidcPath('/.well-known/other')).toBe(false);
  });

  // @control FAPI2-AS-METADATA, FAPI2-CRYPTO-ALGS
  it('discovery lists the /oauth endpoints and only asymmetric algorithms', async () => {
    const res = await httpsCall(`${h.issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const d = res.json();
    expect(d.issuer).toBe(h.issuer);
    expect(d.token_endpoint).toBe(`${h.issuer}/oauth/token`);
    expect(d.pushed_authorization_request_endpoint).toBe(`${h.issuer}/oauth/par`);
    expect(d.authorization_endpoint).toBe(`${h.issuer}/oauth/authorize`);
    expect(d.jwks_uri).toBe(`${h.issuer}/oauth/jwks`);
    expect(d.introspection_endpoint).toBe(`${h.issuer}/oauth/introspect`);
    expect(d.revocation_endpoint).toBe(`${h.issuer}/oauth/revoke`);
    // Not advertised: it would refuse every access token we issue (their audience is the API).
    expect(d.userinfo_endpoint).toBe(undefined);
    expect(d.grant_types_supported).toContain('client_credentials');
    expect(d.token_endpoint_auth_methods_supported.sort()).toEqual(['client_secret_basic', 'private_key_jwt', 'tls_client_auth']);
    const algLists = Object.entries(d)
      .filter(([k]) => k.endsWith('_alg_values_supported'))
      .flatMap(([, v]) => v as string[]);
    expect(algLists.length).toBeGreaterThan(0);
    for (const alg of algLists) expect(alg).not.toMatch(/^(HS|none$)/);
  });

  it('builds absolute URLs from the issuer, not from the Host header', async () => {
    const res = await httpsCall(`${h.issuer}/.well-known/openid-configuration`, {
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
    });
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('evil.example');
    expect(res.json().token_endpoint).toBe(`${h.issuer}/oauth/token`);
  });

  // @control FAPI2-CRYPTO-KEYS
  it('publishes public keys only, with a kid, ES256 among them', async () => {
    const res = await httpsCall(`${h.issuer}/oauth/jwks`);
    expect(res.status).toBe(200);
    const { keys } = res.json() as { keys: Array<Record<string, unknown>> };
    expect(keys.some((k) => k.alg === 'ES256' && k.kty === 'EC' && k.crv === 'P-256')).toBe(true);
    for (const k of keys) {
      expect(typeof k.kid).toBe('string');
      for (const p of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(k).not.toHaveProperty(p);
    }
  });

  it('issues an RFC 9068 access token to a client with the right secret', async () => {
    const res = await requestToken(h, client.client_id, client.client_secret!, { scope: 'accounts:read transfers:write' });
    expect(res.status).toBe(200);
    expect(String(res.headers['cache-control'])).toContain('no-store');
    const body = res.json();
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBeLessThanOrEqual(600);
    expect(body.scope.split(' ').sort()).toEqual(['accounts:read', 'transfers:write']);
    expect(body).not.toHaveProperty('refresh_token');

    const header = decodeProtectedHeader(body.access_token);
    expect(header.typ).toBe('at+jwt');
    expect(header.alg).toBe('ES256');
    expect(typeof header.kid).toBe('string');
    const claims = decodeJwt(body.access_token);
    expect(claims.iss).toBe(h.issuer);
    expect(claims.aud).toBe(h.issuer);
    expect(claims.client_id).toBe(client.client_id);
    expect(claims.sub).toBe(client.client_id);
    expect(claims.tenant_id).toBe(client.tenant_id);
    expect(typeof claims.jti).toBe('string');
    expect(claims.exp! - claims.iat!).toBeGreaterThan(0);
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(600);
  });

  it('defaults the resource to the API and accepts it when named explicitly', async () => {
    const res = await requestToken(h, client.client_id, client.client_secret!, { scope: 'accounts:read', resource: h.issuer });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.json().access_token).aud).toBe(h.issuer);
  });

  it('refuses a resource other than the API (invalid_target)', async () => {
    const res = await requestToken(h, client.client_id, client.client_secret!, {
      scope: 'accounts:read',
      resource: 'https://elsewhere.example',
    });
    expect(res.status).toBe(400);
    expect(res.json().error).toBe('invalid_target');
  });

  it('refuses a wrong secret with 401 invalid_client', async () => {
    const res = await requestToken(h, client.client_id, `${client.client_secret!.slice(0, -2)}xx`, { scope: 'accounts:read' });
    expect(res.status).toBe(401);
    expect(res.json().error).toBe('invalid_client');
  });

  // @control PCI-8.3.2
  it('refuses the stored hash presented as the secret', async () => {
    const row = await h.db.one<{ secret_hash: string }>('SELECT secret_hash FROM clients WHERE id = $1', [client.client_id]);
    const res = await requestToken(h, client.client_id, row!.secret_hash, { scope: 'accounts:read' });
    expect(res.status).toBe(401);
    expect(res.json().error).toBe('invalid_client');
  });

  it('refuses an unknown client and the secret sent in the body (client_secret_post is not enabled)', async () => {
    const unknown = await requestToken(h, 'cli_00000000000000000000000000', client.client_secret!, { scope: 'accounts:read' });
    expect(unknown.status).toBe(401);
    expect(unknown.json().error).toBe('invalid_client');

    const post = await httpsCall(`${h.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'accounts:read',
        client_id: client.client_id,
        client_secret: client.client_secret!,
      }).toString(),
    });
    expect(post.status).toBe(401);
    expect(post.json().error).toBe('invalid_client');
  });

  it('refuses a scope beyond the registration with invalid_scope', async () => {
    const res = await requestToken(h, client.client_id, client.client_secret!, { scope: 'accounts:read admin:clients' });
    expect(res.status).toBe(400);
    const body = res.json();
    expect(body.error).toBe('invalid_scope');
    expect(body).not.toHaveProperty('access_token');
  });

  it('never grants an unknown scope', async () => {
    const res = await requestToken(h, client.client_id, client.client_secret!, { scope: 'accounts:read superuser' });
    if (res.status === 200) {
      expect(res.json().scope).toBe('accounts:read');
      expect(decodeJwt(res.json().access_token).scope).toBe('accounts:read');
    } else {
      expect(res.json().error).toBe('invalid_scope');
    }
  });

  // @control FAPI2-AS-NO-ROPC, OWASP-API8
  it('answers OAuth errors as JSON without internals', async () => {
    const res = await httpsCall(`${h.issuer}/oauth/token`, {
      method: 'POST',
      headers: { authorization: basic(client.client_id, client.client_secret!), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&username=a&password=b',
    });
    expect(res.status).toBe(400);
    expect(res.json().error).toBe('unsupported_grant_type');
    expect(res.text).not.toMatch(/at \w+ \(|node_modules|\.js:\d+/);
  });

  it('introspection and revocation of a JWT access token: active, then revoked (jti list), then inactive and refused', async () => {
    const own = (await requestToken(h, client.client_id, client.client_secret!, { scope: 'accounts:read' })).json().access_token as string;
    const call = (endpoint: string, token: string, as = client) =>
      httpsCall(`${h.issuer}/oauth/${endpoint}`, {
        method: 'POST',
        headers: { authorization: basic(as.client_id, as.client_secret!), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
    const before = await call('introspect', own);
    expect(before.status).toBe(200);
    expect(before.json()).toMatchObject({ active: true, client_id: client.client_id, scope: 'accounts:read', token_type: 'Bearer' });
    // Introspection reports the scope the API would grant now: narrowing the registration narrows it.
    const both = (await requestToken(h, client.client_id, client.client_secret!, { scope: 'accounts:read transfers:write' })).json()
      .access_token as string;
    expect((await call('introspect', both)).json().scope).toBe('accounts:read transfers:write');
    await h.identity.clients.setScopes(client.client_id, ['accounts:read']);
    expect((await call('introspect', both)).json().scope).toBe('accounts:read');
    await h.identity.clients.setScopes(client.client_id, ['accounts:read', 'transfers:write']);
    // Another client (even of another tenant) learns nothing and cannot revoke it.
    const other = await h.identity.clients.create({ tenant: 'other-bank', name: 'x', scopes: ['accounts:read'] });
    expect((await call('introspect', own, other)).json()).toEqual({ active: false });
    expect((await call('revoke', own, other)).status).toBe(200);
    expect((await h.identity.authenticate(`Bearer ${own}`)).clientId).toBe(client.client_id);
    // The owner revokes it: inactive at once, and the resource side refuses it (even cached).
    expect((await call('revoke', own)).status).toBe(200);
    expect((await call('introspect', own)).json()).toEqual({ active: false });
    await expect(h.identity.authenticate(`Bearer ${own}`)).rejects.toMatchObject({ code: 'invalid_token' });
    // A forged or garbage JWT: inactive, revocation answers 200 as RFC 7009 §2.2 wants.
    expect((await call('introspect', `${own.slice(0, -4)}AAAA`)).json()).toEqual({ active: false });
    // Both endpoints still demand client authentication first.
    const anonymous = await httpsCall(`${h.issuer}/oauth/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'opaque-value' }).toString(),
    });
    expect(anonymous.status).toBe(400);
    expect(anonymous.json()).toEqual({ error: 'invalid_request', error_description: 'no client authentication mechanism provided' });
  });

  // @control PCI-8.6.3
  it('a revoked client cannot get tokens any more', async () => {
    const c = await h.identity.clients.create({ tenant: 'acme-bank', name: 'to-revoke', scopes: ['accounts:read'] });
    expect((await requestToken(h, c.client_id, c.client_secret!, { scope: 'accounts:read' })).status).toBe(200);
    expect(await h.identity.clients.revoke(c.client_id)).toBe(true);
    const res = await requestToken(h, c.client_id, c.client_secret!, { scope: 'accounts:read' });
    expect(res.status).toBe(401);
    expect(res.json().error).toBe('invalid_client');
  });

  it('a scope change applies to the next token request', async () => {
    const c = await h.identity.clients.create({ tenant: 'acme-bank', name: 'narrowed', scopes: ['accounts:read', 'accounts:write'] });
    expect((await requestToken(h, c.client_id, c.client_secret!, { scope: 'accounts:write' })).status).toBe(200);
    await h.identity.clients.setScopes(c.client_id, ['accounts:read']);
    const res = await requestToken(h, c.client_id, c.client_secret!, { scope: 'accounts:write' });
    expect(res.status).toBe(400);
    expect(res.json().error).toBe('invalid_scope');
  });

  // @control FAPI2-AS-CLIENT-AUTH
  it('private_key_jwt: a client assertion signed with the registered key gets a token; HS256 assertions are refused', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const c = await h.identity.clients.create({
      tenant: 'acme-bank',
      name: 'pkj',
      scopes: ['accounts:read'],
      authMethod: 'private_key_jwt',
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] },
    });
    const assertion = (key: CryptoKey | Uint8Array, alg: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg, kid: 'k1' })
        .setIssuer(c.client_id)
        .setSubject(c.client_id)
        .setAudience(h.issuer)
        .setJti(`j-${Math.random()}`)
        .setIssuedAt()
        .setExpirationTime('60s')
        .sign(key);
    const call = (clientAssertion: string) =>
      httpsCall(`${h.issuer}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'accounts:read',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: clientAssertion,
        }).toString(),
      });
    const ok = await call(await assertion(privateKey, 'ES256'));
    expect(ok.status).toBe(200);
    expect(decodeJwt(ok.json().access_token).tenant_id).toBe(c.tenant_id);
    const hs = await call(await assertion(new TextEncoder().encode('x'.repeat(64)), 'HS256'));
    expect(hs.status).toBe(401);
    expect(hs.json().error).toBe('invalid_client');
    const other = (await generateKeyPair('ES256')).privateKey;
    expect((await call(await assertion(other, 'ES256'))).status).toBe(401);
  });

  it('tls_client_auth without a client certificate is refused', async () => {
    const c = await h.identity.clients.create({
      tenant: 'acme-bank',
      name: 'tls',
      scopes: ['accounts:read'],
      authMethod: 'tls_client_auth',
      tlsSubject: 'CN=svc.acme',
    });
    const res = await httpsCall(`${h.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'accounts:read', client_id: c.client_id }).toString(),
    });
    expect(res.status).toBe(401);
    expect(res.json().error).toBe('invalid_client');
  });

  it('logs no secret and no token', async () => {
    const res = await requestToken(h, client.client_id, client.client_secret!, { scope: 'accounts:read' });
    const token = res.json().access_token as string;
    const logged = JSON.stringify(h.logs);
    expect(logged).not.toContain(client.client_secret!);
    expect(logged).not.toContain(token);
    expect(h.logs.filter((l) => l.level === 'error')).toEqual([]);
  });
});

describe('secrets at rest [sqlite]', () => {
  // @control PCI-8.3.2
  it('the client secret appears nowhere in the database file, only its HMAC', async () => {
    const tdb = await createTestDatabase('sqlite');
    const h = await startHarness(tdb.db);
    try {
      const c = await h.identity.clients.create({ tenant: 'acme-bank', name: 'at-rest', scopes: ['accounts:read'] });
      const secret = c.client_secret!;
      expect(secret.length).toBeGreaterThanOrEqual(43); // 32 random bytes, base64url
      // Use it once so every table the token path touches has been written to.
      expect((await requestToken(h, c.client_id, secret, { scope: 'accounts:read' })).status).toBe(200);
      await tdb.db.run('PRAGMA wal_checkpoint(TRUNCATE)');
      const file = tdb.url.slice('sqlite:'.length);
      const bytes = Buffer.concat([
        readFileSync(file),
        ...['-wal', '-shm'].map((s) => {
          try {
            return readFileSync(file + s);
          } catch {
            return Buffer.alloc(0);
          }
        }),
      ]);
      expect(bytes.includes(Buffer.from(secret))).toBe(false);
      expect(bytes.includes(Buffer.from(Buffer.from(secret, 'base64url').toString('hex')))).toBe(false);
      const row = await tdb.db.one<{ secret_hash: string }>('SELECT secret_hash FROM clients WHERE id = $1', [c.client_id]);
      expect(row!.secret_hash).toMatch(/^[0-9a-f]{64}$/);
      // The signing keys are stored encrypted too: no private JWK member in clear.
      expect(bytes.includes(Buffer.from('"d":"'))).toBe(false);
    } finally {
      await h.close();
      await tdb.dispose();
    }
  });
});
