// Scopes named by the gateway's upstream routes (docs/contract.md §6) are registrable like the
// platform's own: a client registered for kyc:read gets a token carrying it and authenticates
// with it; a scope no route names is refused, and without the route the scope does not exist.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createTestDatabase, describeEngines, type TestDatabase } from '../support/databases.js';
import { requestToken, startHarness, type Harness } from './harness.js';

describeEngines('gateway scopes', (engine) => {
  let tdb: TestDatabase;
  let h: Harness;
  beforeAll(async () => {
    tdb = await createTestDatabase(engine);
    h = await startHarness(tdb.db, { gatewayScopes: ['kyc:read', 'kyc:write'] });
  });
  afterAll(async () => {
    await h?.close();
    await tdb?.dispose();
  });

  it('a client registered for a gateway scope gets it in its token, and the API verifier accepts it', async () => {
    const c = await h.identity.clients.create({ tenant: 'acme', name: 'kyc-app', scopes: ['kyc:read', 'accounts:read'] });
    const res = await requestToken(h, c.client_id, c.client_secret!, { scope: 'kyc:read', resource: h.issuer });
    expect(res.status).toBe(200);
    expect(res.json().scope).toBe('kyc:read');
    const principal = await h.identity.authenticate(`Bearer ${res.json().access_token}`);
    expect([...principal.scopes]).toEqual(['kyc:read']);
    // Beyond its registration: refused by the authorization server, not silently dropped.
    const beyond = await requestToken(h, c.client_id, c.client_secret!, { scope: 'kyc:write', resource: h.issuer });
    expect({ status: beyond.status, error: beyond.json().error }).toEqual({ status: 400, error: 'invalid_scope' });
  });

  it('a scope no route names is refused at registration, with the field named', async () => {
    const err = await h.identity.clients.create({ tenant: 'acme', name: 'x', scopes: ['kyc:admin'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('validation_failed');
    expect((err as AppError).detail).toMatch(/^scopes\.0: /);
  });

  it('without the gateway routes, the same scope does not exist', async () => {
    const plain = await createTestDatabase(engine);
    const other = await startHarness(plain.db);
    try {
      const err = await other.identity.clients.create({ tenant: 'acme', name: 'y', scopes: ['kyc:read'] }).catch((e: unknown) => e);
      expect((err as AppError).code).toBe('validation_failed');
    } finally {
      await other.close();
      await plain.dispose();
    }
  });
});
