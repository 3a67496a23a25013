// Admin API and least privilege: /v1/admin/clients (create, list, read, scopes, revoke), tenant
// confinement of a non-platform admin, the default scope of a token request without `scope`, and
// the access review naming exactly the scopes a client was given but never used.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines } from '../support/databases.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';

describeEngines('admin API and access review', (engine) => {
  let s: TestServer;
  let admin: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    s = await startTestServer(engine);
    admin = await s.newClient('platform', ['admin:clients']);
  });
  afterAll(async () => s?.close());

  const problem = (res: { status: number; body: any }) => ({ status: res.status, code: res.body?.code });

  // @control PCI-8.6.3, PCI-10.2.1.2
  it('creates, lists, reads, narrows and revokes a client; the revoked client gets no token', async () => {
    const created = await s.http.call('/v1/admin/clients', {
      token: admin.token,
      body: { tenant: 'globex', name: 'reports', scopes: ['accounts:read', 'transfers:read'] },
    });
    expect(created.status).toBe(201);
    const id = created.body.client_id as string;
    expect(created.body.client_secret).toEqual(expect.any(String));
    const list = await s.http.call('/v1/admin/clients', { token: admin.token });
    expect(list.body.data.map((c: { client_id: string }) => c.client_id)).toContain(id);
    expect(JSON.stringify(list.body)).not.toContain(created.body.client_secret);
    const narrowed = await s.http.call(`/v1/admin/clients/${id}/scopes`, {
      method: 'PUT',
      token: admin.token,
      body: { scopes: ['accounts:read'] },
    });
    expect(narrowed.body).toMatchObject({ client_id: id, scopes: ['accounts:read'], default_scopes: ['accounts:read'] });
    const beyond = await s.token(id, created.body.client_secret, 'transfers:read');
    expect(beyond.body.error).toBe('invalid_scope');
    const revoked = await s.http.call(`/v1/admin/clients/${id}`, { method: 'DELETE', token: admin.token });
    expect(revoked.body.status).toBe('revoked');
    expect((await s.token(id, created.body.client_secret, 'accounts:read')).status).toBe(401);
    expect(
      problem(await s.http.call('/v1/admin/clients', { token: admin.token, body: { tenant: 'globex', name: 'x', scopes: ['root'] } })),
    ).toEqual({ status: 400, code: 'validation_failed' });
    expect(
      problem(
        await s.http.call('/v1/admin/clients', {
          token: admin.token,
          body: { tenant: 'globex', name: 'x', scopes: ['accounts:read'], is_admin: true },
        }),
      ),
    ).toEqual({ status: 400, code: 'validation_failed' });
  });

  // @control OWASP-API5
  it('needs admin:clients (403), and a tenant admin sees only its own tenant (404 for another)', async () => {
    const plain = await s.newClient('globex', ['accounts:read']);
    expect(problem(await s.http.call('/v1/admin/clients', { token: plain.token }))).toEqual({ status: 403, code: 'insufficient_scope' });
    const tenantAdmin = await s.newClient('initech', ['admin:clients']);
    const other = await s.http.call(`/v1/admin/clients/${plain.clientId}`, { token: tenantAdmin.token });
    expect(problem(other)).toEqual({ status: 404, code: 'not_found' });
    const own = await s.http.call('/v1/admin/clients', { token: tenantAdmin.token });
    expect(own.body.data.every((c: { tenant: string }) => c.tenant === 'initech')).toBe(true);
    const foreign = await s.http.call('/v1/admin/clients', {
      token: tenantAdmin.token,
      body: { tenant: 'globex', name: 'x', scopes: ['accounts:read'] },
    });
    expect(problem(foreign)).toEqual({ status: 403, code: 'forbidden' });
  });

  it('a token request without scope gets the read-only subset, never everything', async () => {
    const created = await s.server.services.identity.clients.create({
      tenant: 'globex',
      name: 'defaults',
      scopes: ['accounts:read', 'transfers:write', 'customers:read'],
    });
    const res = await s.token(created.client_id, created.client_secret!, '');
    expect(res.status).toBe(200);
    expect(res.body.scope.split(' ').sort()).toEqual(['accounts:read', 'customers:read']);
    const writer = await s.server.services.identity.clients.create({ tenant: 'globex', name: 'writer', scopes: ['transfers:write'] });
    const none = await s.token(writer.client_id, writer.client_secret!, '');
    expect(none.body.error).toBe('invalid_scope');
  });

  // @control PCI-8.6.3
  it('the access review names exactly the scopes given but never used, and idle clients', async () => {
    const svc = await s.newClient('hooli', ['accounts:read', 'customers:read', 'transfers:read', 'ledger:fund']);
    const idle = await s.newClient('hooli', ['accounts:read']);
    expect((await s.http.call('/v1/accounts?limit=1', { token: svc.token })).status).toBe(200);
    expect((await s.http.call('/v1/customers?limit=1', { token: svc.token })).status).toBe(200);
    const review = await s.http.call('/v1/admin/access-review?days=7', { token: admin.token });
    expect(review.status).toBe(200);
    const mine = review.body.clients.find((c: { client_id: string }) => c.client_id === svc.clientId);
    expect(mine.exercised.sort()).toEqual(['accounts:read', 'customers:read']);
    expect(mine.unused.sort()).toEqual(['ledger:fund', 'transfers:read']);
    expect(mine.idle).toBe(false);
    const quiet = review.body.clients.find((c: { client_id: string }) => c.client_id === idle.clientId);
    expect(quiet).toMatchObject({ idle: true, unused: ['accounts:read'], exercised: [], last_used_at: null });
    expect(problem(await s.http.call('/v1/admin/access-review?days=0', { token: admin.token }))).toEqual({
      status: 400,
      code: 'validation_failed',
    });
  });
});
