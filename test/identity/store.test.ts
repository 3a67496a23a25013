// The storage side of identity on every engine: the oidc-provider Adapter over `oidc_payloads`, and
// the ClientService over `clients` / `tenants` (validation, tenants, listing, revocation, scopes).
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createAdapterFactory } from '../../src/identity/oidc-adapter.js';
import { createTestDatabase, describeEngines, type TestDatabase } from '../support/databases.js';
import { startHarness, type Harness } from './harness.js';

async function validationError(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('validation_failed');
    return err as AppError;
  }
  throw new Error('expected a validation_failed error');
}

describeEngines('oidc adapter', (engine) => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase(engine);
  });
  afterAll(async () => {
    await tdb?.dispose();
  });

  const factory = () =>
    createAdapterFactory(
      tdb.db,
      async (id) => (id === 'cli_known' ? { client_id: id } : undefined),
      (err) => {
        throw err;
      },
    );

  it('stores, finds, replaces and destroys payloads per model', async () => {
    const adapter = factory();
    const session = adapter('Session');
    const grant = adapter('Grant');
    await session.upsert('s1', { uid: 'u1', accountId: 'a' }, 60);
    await grant.upsert('s1', { other: true }, 60); // same id, another model: independent
    expect(await session.find('s1')).toEqual({ uid: 'u1', accountId: 'a' });
    expect(await grant.find('s1')).toEqual({ other: true });
    expect(await session.findByUid('u1')).toEqual({ uid: 'u1', accountId: 'a' });
    expect(await grant.findByUid('u1')).toBeUndefined();
    await session.upsert('s1', { uid: 'u2', accountId: 'b' }, 60);
    expect(await session.findByUid('u1')).toBeUndefined();
    expect(await session.find('s1')).toEqual({ uid: 'u2', accountId: 'b' });
    await session.destroy('s1');
    expect(await session.find('s1')).toBeUndefined();
    expect(await grant.find('s1')).toEqual({ other: true });
    expect(await session.find('missing')).toBeUndefined();
  });

  it('does not return an expired payload', async () => {
    const adapter = factory()('AuthorizationCode');
    await adapter.upsert('gone', { a: 1 }, -1);
    expect(await adapter.find('gone')).toBeUndefined();
    await adapter.upsert('forever', { a: 2 });
    expect(await adapter.find('forever')).toEqual({ a: 2 });
  });

  it('consume() marks a payload consumed (epoch seconds)', async () => {
    const adapter = factory()('AuthorizationCode');
    await adapter.upsert('code1', { grantId: 'g1' }, 60);
    expect((await adapter.find('code1'))?.consumed).toBeUndefined();
    const before = Math.floor(Date.now() / 1000);
    await adapter.consume('code1');
    const consumed = (await adapter.find('code1'))?.consumed;
    expect(consumed).toBeGreaterThanOrEqual(before);
    expect(consumed).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
  });

  it('finds by user code and revokes everything of a grant across models', async () => {
    const adapter = factory();
    await adapter('DeviceCode').upsert('d1', { userCode: 'ABCD-EFGH', grantId: 'g2' }, 60);
    expect(await adapter('DeviceCode').findByUserCode('ABCD-EFGH')).toMatchObject({ grantId: 'g2' });
    await adapter('RefreshToken').upsert('r1', { grantId: 'g2' }, 60);
    await adapter('AccessToken').upsert('t1', { grantId: 'g2' }, 60);
    await adapter('AccessToken').upsert('t2', { grantId: 'g3' }, 60);
    await adapter('Grant').revokeByGrantId('g2');
    expect(await adapter('DeviceCode').find('d1')).toBeUndefined();
    expect(await adapter('RefreshToken').find('r1')).toBeUndefined();
    expect(await adapter('AccessToken').find('t1')).toBeUndefined();
    expect(await adapter('AccessToken').find('t2')).toEqual({ grantId: 'g3' });
  });

  it('answers the Client model from the clients lookup, never from oidc_payloads', async () => {
    const client = factory()('Client');
    expect(await client.find('cli_known')).toEqual({ client_id: 'cli_known' });
    expect(await client.find('cli_unknown')).toBeUndefined();
    await expect(client.upsert('cli_x', { client_id: 'cli_x' })).rejects.toThrow();
    const rows = await tdb.db.query("SELECT id FROM oidc_payloads WHERE model = 'Client'");
    expect(rows).toEqual([]);
  });
});

describeEngines('client service', (engine) => {
  let tdb: TestDatabase;
  let h: Harness;
  beforeAll(async () => {
    tdb = await createTestDatabase(engine);
    h = await startHarness(tdb.db);
  });
  afterAll(async () => {
    await h?.close();
    await tdb?.dispose();
  });

  // @control FAPI2-CRYPTO-ENTROPY
  it('creates a tenant on first use and reuses it after', async () => {
    const a = await h.identity.clients.create({ tenant: 'lender-one', name: 'a', scopes: ['accounts:read'] });
    const b = await h.identity.clients.create({ tenant: 'lender-one', name: 'b', scopes: ['transfers:read', 'transfers:read'] });
    const c = await h.identity.clients.create({ tenant: 'lender-two', name: 'c', scopes: ['metrics:read'] });
    expect(a.tenant_id).toMatch(/^ten_[0-9a-z]{26}$/);
    expect(a.client_id).toMatch(/^cli_[0-9a-z]{26}$/);
    expect(b.tenant_id).toBe(a.tenant_id);
    expect(c.tenant_id).not.toBe(a.tenant_id);
    expect(b.scopes).toEqual(['transfers:read']);
    expect(a.client_secret).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(a.client_secret).not.toBe(b.client_secret);
    const tenants = await tdb.db.query<{ name: string }>("SELECT name FROM tenants WHERE name LIKE 'lender-%' ORDER BY name");
    expect(tenants.map((t) => t.name)).toEqual(['lender-one', 'lender-two']);

    const listed = await h.identity.clients.list(a.tenant_id);
    expect(listed.map((x) => x.client_id).sort()).toEqual([a.client_id, b.client_id].sort());
    const got = await h.identity.clients.get(a.client_id);
    expect(got).toEqual({
      client_id: a.client_id,
      tenant_id: a.tenant_id,
      tenant: 'lender-one',
      name: 'a',
      scopes: ['accounts:read'],
      grant_types: ['client_credentials'],
      auth_method: 'client_secret_basic',
      status: 'active',
      created_at: expect.any(String),
      // Least privilege: without scope a token gets the read-only subset; plain service client, bearer tokens.
      default_scopes: ['accounts:read'],
      fapi: false,
      binding: null,
    });
    expect(Number.isNaN(Date.parse(got!.created_at))).toBe(false);
    expect(got).not.toHaveProperty('client_secret');
    expect(JSON.stringify(await h.identity.clients.list())).not.toContain(a.client_secret!);
    expect(await h.identity.clients.get('cli_doesnotexist0000000000000')).toBeUndefined();
  });

  it('refuses bad registrations with validation_failed', async () => {
    const base = { tenant: 'lender-one', name: 'x', scopes: ['accounts:read'] };
    await validationError(h.identity.clients.create({ ...base, scopes: [] }));
    await validationError(h.identity.clients.create({ ...base, scopes: ['accounts:read', 'root'] }));
    await validationError(h.identity.clients.create({ ...base, scopes: ['openid'] }));
    await validationError(h.identity.clients.create({ ...base, tenant: '  ' }));
    await validationError(h.identity.clients.create({ ...base, name: '' }));
    await validationError(h.identity.clients.create({ ...base, name: 'a\nb' }));
    await validationError(h.identity.clients.create({ ...base, grant: 'password' as never }));
    await validationError(h.identity.clients.create({ ...base, authMethod: 'client_secret_post' as never }));
    await validationError(h.identity.clients.create({ ...base, authMethod: 'none' as never }));
    await validationError(h.identity.clients.create({ ...base, redirectUris: ['https://app.example/cb'] }));
    await validationError(h.identity.clients.create({ ...base, grant: 'authorization_code' }));
    await validationError(h.identity.clients.create({ ...base, grant: 'authorization_code', redirectUris: ['http://app.example/cb'] }));
    await validationError(h.identity.clients.create({ ...base, grant: 'authorization_code', redirectUris: ['https://app.example/cb#x'] }));
    await validationError(h.identity.clients.create({ ...base, authMethod: 'private_key_jwt' }));
    await validationError(h.identity.clients.create({ ...base, authMethod: 'tls_client_auth' }));
    await validationError(h.identity.clients.create({ ...base, tlsSubject: 'CN=x' }));
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    await validationError(
      h.identity.clients.create({ ...base, authMethod: 'private_key_jwt', jwks: { keys: [await exportJWK(privateKey)] } }),
    );
    await validationError(
      h.identity.clients.create({ ...base, authMethod: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }),
    );
    await validationError(
      h.identity.clients.create({ ...base, authMethod: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256' }] } }),
    );
    expect((await h.identity.clients.list()).some((c) => c.name === 'x')).toBe(false);
  });

  it('registers private_key_jwt, tls_client_auth and authorization_code clients (no secret unless Basic)', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const pkj = await h.identity.clients.create({
      tenant: 'lender-one',
      name: 'pkj',
      scopes: ['accounts:read'],
      authMethod: 'private_key_jwt',
      jwks: { keys: [await exportJWK(publicKey)] },
    });
    expect(pkj.client_secret).toBeUndefined();
    const tls = await h.identity.clients.create({
      tenant: 'lender-one',
      name: 'tls',
      scopes: ['accounts:read'],
      authMethod: 'tls_client_auth',
      tlsSubject: 'CN=svc.lender-one,O=Lender One',
    });
    expect(tls.client_secret).toBeUndefined();
    // An authorization_code client is a FAPI 2.0 client: no shared secret, DPoP-bound by default.
    await expect(
      h.identity.clients.create({
        tenant: 'lender-one',
        name: 'web',
        scopes: ['accounts:read'],
        grant: 'authorization_code',
        redirectUris: ['https://app.lender-one.example/cb'],
      }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    const web = await h.identity.clients.create({
      tenant: 'lender-one',
      name: 'web',
      scopes: ['accounts:read'],
      grant: 'authorization_code',
      redirectUris: ['https://app.lender-one.example/cb'],
      authMethod: 'private_key_jwt',
      jwks: { keys: [await exportJWK(publicKey)] },
    });
    expect(web.client_secret).toBeUndefined();
    expect(await h.identity.clients.get(web.client_id)).toMatchObject({
      fapi: true,
      binding: 'dpop',
      grant_types: ['authorization_code', 'refresh_token'],
    });
    // mTLS binding needs tls_client_auth.
    await expect(
      h.identity.clients.create({
        tenant: 'lender-one',
        name: 'bad',
        scopes: ['accounts:read'],
        binding: 'mtls',
      }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    expect((await h.identity.clients.get(pkj.client_id))?.auth_method).toBe('private_key_jwt');
    expect((await h.identity.clients.get(tls.client_id))?.auth_method).toBe('tls_client_auth');
  });

  it('revoke and setScopes', async () => {
    const c = await h.identity.clients.create({ tenant: 'lender-one', name: 'r', scopes: ['accounts:read'] });
    expect(await h.identity.clients.setScopes(c.client_id, ['accounts:read', 'accounts:write'])).toBe(true);
    expect((await h.identity.clients.get(c.client_id))?.scopes).toEqual(['accounts:read', 'accounts:write']);
    await validationError(h.identity.clients.setScopes(c.client_id, []));
    await validationError(h.identity.clients.setScopes(c.client_id, ['everything']));
    expect(await h.identity.clients.setScopes('cli_doesnotexist0000000000000', ['accounts:read'])).toBe(false);

    expect(await h.identity.clients.revoke(c.client_id)).toBe(true);
    expect((await h.identity.clients.get(c.client_id))?.status).toBe('revoked');
    const row = await tdb.db.one<{ revoked_at: bigint | null }>('SELECT revoked_at FROM clients WHERE id = $1', [c.client_id]);
    expect(row?.revoked_at).not.toBeNull();
    expect(await h.identity.clients.revoke(c.client_id)).toBe(true); // idempotent
    expect(await h.identity.clients.revoke('cli_doesnotexist0000000000000')).toBe(false);
  });
});
