// authenticate(): bearer access tokens on API requests. Mostly negative: every forged, altered,
// expired, misdirected or revoked token must give the same invalid_token answer (RFC 6750 §3).
import { createHash } from 'node:crypto';
import { SignJWT, decodeJwt, generateKeyPair, importJWK, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlatformSecrets } from '../../src/crypto/platform-secrets.js';
import { AppError } from '../../src/errors.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { requestToken, startHarness, type Harness } from './harness.js';

const INVALID = 'Bearer realm="vaultgate", error="invalid_token"';

async function refusal(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected authenticate to refuse');
}

async function expectInvalid(h: Harness, authorization: string | undefined): Promise<void> {
  const err = await refusal(h.identity.authenticate(authorization));
  expect(err.code).toBe('invalid_token');
  expect(err.status).toBe(401);
  expect(err.headers['WWW-Authenticate']).toBe(INVALID);
  // Generic detail: never which check failed, never a library message.
  expect(err.detail).toBe('The access token is invalid or expired');
}

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('authenticate', () => {
  let tdb: TestDatabase;
  let h: Harness;
  let client: { client_id: string; client_secret?: string; tenant_id: string };
  let token: string;
  /** The real ES256 signing key (read back from platform secrets), to sign tokens that differ in one claim. */
  let signingKey: { key: CryptoKey; kid: string };

  async function freshToken(scope = 'accounts:read transfers:write', c = client): Promise<string> {
    const res = await requestToken(h, c.client_id, c.client_secret!, { scope });
    expect(res.status).toBe(200);
    return res.json().access_token as string;
  }

  /** A token signed with the platform's own key: valid except for what `overrides` changes. */
  async function sign(overrides: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload = {
      iss: h.issuer,
      aud: h.issuer,
      sub: client.client_id,
      client_id: client.client_id,
      tenant_id: client.tenant_id,
      scope: 'accounts:read',
      jti: `jti-${Math.random()}`,
      iat: now,
      exp: now + 300,
      ...overrides,
    };
    for (const [k, v] of Object.entries(payload)) if (v === undefined) delete (payload as Record<string, unknown>)[k];
    return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: signingKey.kid, ...header }).sign(signingKey.key);
  }

  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite');
    h = await startHarness(tdb.db);
    client = await h.identity.clients.create({ tenant: 'acme-bank', name: 'payments', scopes: ['accounts:read', 'transfers:write'] });
    token = await freshToken();
    const secrets = createPlatformSecrets(tdb.db, h.master);
    const jwks = JSON.parse(
      await secrets.getOrCreate('oidc-jwks', () => {
        throw new Error('the signing keys must exist already');
      }),
    ) as { keys: JWK[] };
    const es = jwks.keys.find((k) => k.alg === 'ES256')!;
    signingKey = { key: (await importJWK(es, 'ES256')) as CryptoKey, kid: es.kid! };
  });

  afterAll(async () => {
    await h?.close();
    await tdb?.dispose();
  });

  it('accepts a token the server issued: tenant, client and scopes', async () => {
    const p = await h.identity.authenticate(`Bearer ${token}`);
    expect(p.tenantId).toBe(client.tenant_id);
    expect(p.clientId).toBe(client.client_id);
    expect(p.userId).toBeUndefined();
    expect(p.role).toBeUndefined();
    expect(p.customerId).toBeUndefined();
    expect([...p.scopes].sort()).toEqual(['accounts:read', 'transfers:write']);
    expect(p.tokenHash).toBe(createHash('sha256').update(token).digest('hex'));
    // Cached path: same answer the second time.
    const again = await h.identity.authenticate(`Bearer ${token}`);
    expect([...again.scopes].sort()).toEqual(['accounts:read', 'transfers:write']);
    // The scheme is case-insensitive (RFC 7235 §2.1).
    expect((await h.identity.authenticate(`bearer ${token}`)).clientId).toBe(client.client_id);
  });

  it('carries only the scopes the token was issued with', async () => {
    const narrow = await freshToken('accounts:read');
    expect([...(await h.identity.authenticate(`Bearer ${narrow}`)).scopes]).toEqual(['accounts:read']);
  });

  // @control FAPI2-RS-ERRORS
  it('missing header: invalid_token without an error attribute (RFC 6750 §3.1)', async () => {
    for (const header of [undefined, '']) {
      const err = await refusal(h.identity.authenticate(header));
      expect(err.code).toBe('invalid_token');
      expect(err.headers['WWW-Authenticate']).toBe('Bearer realm="vaultgate"');
    }
  });

  it('malformed headers', async () => {
    for (const header of [
      'Bearer',
      'Bearer ',
      `Basic ${token}`,
      `Bearer ${token} extra`,
      `Bearer\t${token}`,
      'Bearer not-a-jwt',
      'Bearer a.b.c',
      `Bearer ${token}x`,
      `Bearer ${'a'.repeat(9000)}`,
    ]) {
      await expectInvalid(h, header);
    }
    // A bearer (unbound) token under the DPoP scheme (RFC 9449 §7.1): refused with a DPoP challenge.
    const err = await refusal(h.identity.authenticate(`DPoP ${token}`));
    expect(err.code).toBe('invalid_token');
    expect(err.headers['WWW-Authenticate']).toMatch(/^DPoP algs="ES256 PS256 EdDSA", error="invalid_token"$/);
  });

  it('a token signed by another key (even with our kid)', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const claims = decodeJwt(token);
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: signingKey.kid }).sign(privateKey);
    await expectInvalid(h, `Bearer ${forged}`);
  });

  // @control FAPI2-CRYPTO-ALGS
  it('alg none', async () => {
    const claims = decodeJwt(token);
    await expectInvalid(h, `Bearer ${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims)}.`);
    await expectInvalid(h, `Bearer ${b64({ alg: 'none', typ: 'at+jwt', kid: signingKey.kid })}.${b64(claims)}.`);
  });

  // @control FAPI2-CRYPTO-ALGS, OWASP-API2
  it('HS256, keyed with public or stored material', async () => {
    const claims = decodeJwt(token);
    const row = await h.db.one<{ secret_hash: string }>('SELECT secret_hash FROM clients WHERE id = $1', [client.client_id]);
    const jwk = (await fetchJwks(h)).find((k) => k.kid === signingKey.kid)!;
    for (const secret of [row!.secret_hash, client.client_secret!, String(jwk.x), JSON.stringify(jwk)]) {
      const hs = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: signingKey.kid })
        .sign(Buffer.from(secret));
      await expectInvalid(h, `Bearer ${hs}`);
    }
  });

  it('a tampered payload (scope widened) with the original signature', async () => {
    const [head, , sig] = token.split('.');
    const claims = { ...decodeJwt(token), scope: 'accounts:read transfers:write admin:clients' };
    await expectInvalid(h, `Bearer ${head}.${b64(claims)}.${sig}`);
    const otherTenant = { ...decodeJwt(token), tenant_id: 'ten_someoneelse0000000000000000' };
    await expectInvalid(h, `Bearer ${head}.${b64(otherTenant)}.${sig}`);
  });

  it('the control: a token signed here with our key and the right claims is accepted', async () => {
    // Proves the refusals below come from the one claim each changes.
    expect((await h.identity.authenticate(`Bearer ${await sign()}`)).clientId).toBe(client.client_id);
  });

  // @control FAPI2-RS-VALIDATE
  it('wrong issuer, wrong audience, wrong typ', async () => {
    await expectInvalid(h, `Bearer ${await sign({ iss: 'https://evil.example' })}`);
    await expectInvalid(h, `Bearer ${await sign({ iss: `${h.issuer}/` })}`);
    await expectInvalid(h, `Bearer ${await sign({ aud: 'https://other-api.example' })}`);
    await expectInvalid(h, `Bearer ${await sign({}, { typ: 'JWT' })}`);
    // An ID token shape (typ JWT, aud = client) must never pass as an access token.
    await expectInvalid(h, `Bearer ${await sign({ aud: client.client_id }, { typ: 'JWT' })}`);
  });

  // @control FAPI2-RS-VALIDATE
  it('expired (beyond the 5 s tolerance) and not yet valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectInvalid(h, `Bearer ${await sign({ iat: now - 700, exp: now - 60 })}`);
    await expectInvalid(h, `Bearer ${await sign({ nbf: now + 120 })}`);
  });

  it('missing required claims', async () => {
    for (const claim of ['exp', 'iat', 'client_id', 'jti', 'sub', 'tenant_id']) {
      await expectInvalid(h, `Bearer ${await sign({ [claim]: undefined })}`);
    }
  });

  // @control FAPI2-RS-SENDER
  it('a sender-constrained (DPoP / mTLS) token presented as a bearer token', async () => {
    // A DPoP-bound one is told that it needs the DPoP scheme and a proof (RFC 9449 §7.1).
    const dpopBound = await refusal(h.identity.authenticate(`Bearer ${await sign({ cnf: { jkt: 'abc' } })}`));
    expect(dpopBound.code).toBe('invalid_token');
    expect(dpopBound.headers['WWW-Authenticate']).toBe(
      'DPoP algs="ES256 PS256 EdDSA", error="invalid_token", error_description="DPoP-bound token requires the DPoP scheme and a proof"',
    );
    await expectInvalid(h, `Bearer ${await sign({ cnf: { 'x5t#S256': 'abc' } })}`);
  });

  it('recheck: an authenticated principal stands until its exp, its revocation or a scope change', async () => {
    const c = await h.identity.clients.create({ tenant: 'acme-bank', name: 'stream', scopes: ['accounts:read', 'alerts:read'] });
    const now = Math.floor(Date.now() / 1000);
    // exp 2 s ahead (verification allows 5 s of clock skew for the request itself, not for recheck).
    const short = await sign({
      client_id: c.client_id,
      sub: c.client_id,
      tenant_id: c.tenant_id,
      scope: 'accounts:read alerts:read',
      exp: now + 2,
    });
    const principal = await h.identity.authenticate(`Bearer ${short}`);
    expect((await h.identity.recheck(principal))?.scopes).toEqual(new Set(['accounts:read', 'alerts:read']));
    expect(principal.expiresAtMs).toBe((now + 2) * 1000);
    expect(await h.identity.clients.setScopes(c.client_id, ['accounts:read'])).toBe(true);
    expect((await h.identity.recheck(principal))?.scopes).toEqual(new Set(['accounts:read']));
    await new Promise((r) => setTimeout(r, Math.max(0, (now + 2) * 1000 - Date.now() + 50)));
    expect(await h.identity.recheck(principal)).toBe(undefined);
    // A principal this verifier never handed out has no standing to recheck.
    expect(await h.identity.recheck({ ...principal, expiresAtMs: Date.now() + 60_000 })).toBe(undefined);
  });

  it("a token whose tenant is not its client's", async () => {
    const other = await h.identity.clients.create({ tenant: 'other-lender', name: 'ops', scopes: ['accounts:read'] });
    await expectInvalid(h, `Bearer ${await sign({ tenant_id: other.tenant_id })}`);
  });

  // @control FAPI2-RS-VALIDATE
  it("a revoked client's unexpired token is refused at once, even when cached", async () => {
    const c = await h.identity.clients.create({ tenant: 'acme-bank', name: 'to-revoke', scopes: ['accounts:read'] });
    const t = await freshToken('accounts:read', c);
    expect((await h.identity.authenticate(`Bearer ${t}`)).clientId).toBe(c.client_id); // now cached
    expect(await h.identity.clients.revoke(c.client_id)).toBe(true);
    await expectInvalid(h, `Bearer ${t}`);
  });

  it('setScopes narrows the effective scopes of issued tokens at once, and never widens them', async () => {
    const c = await h.identity.clients.create({ tenant: 'acme-bank', name: 'narrowed', scopes: ['accounts:read', 'transfers:write'] });
    const t = await freshToken('accounts:read transfers:write', c);
    expect([...(await h.identity.authenticate(`Bearer ${t}`)).scopes].sort()).toEqual(['accounts:read', 'transfers:write']);
    expect(await h.identity.clients.setScopes(c.client_id, ['accounts:read', 'admin:clients'])).toBe(true);
    expect([...(await h.identity.authenticate(`Bearer ${t}`)).scopes]).toEqual(['accounts:read']);
  });
});

async function fetchJwks(h: Harness): Promise<JWK[]> {
  const { httpsCall } = await import('./harness.js');
  return ((await httpsCall(`${h.issuer}/oauth/jwks`)).json() as { keys: JWK[] }).keys;
}
