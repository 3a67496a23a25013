// Keys and end users over the API (what the CLI's `keys` and `users` do), on both engines: the
// platform reads and rotates the key ring and the receipt key, a tenant may not; a tenant's admin
// lists, re-roles, disables and resets its users, never another tenant's; every change audited
// with who made it, and no key material or personal data in any answer.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeEngines, type Engine } from '../support/databases.js';
import { eventually } from '../support/eventually.js';

const PASSWORD = 'correct horse battery staple';

describeEngines('keys and users over the API', (engine: Engine) => {
  let s: TestServer;
  let platform: Awaited<ReturnType<TestServer['newClient']>>;
  let acme: Awaited<ReturnType<TestServer['newClient']>>;
  let globex: Awaited<ReturnType<TestServer['newClient']>>;
  let reader: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    s = await startTestServer(engine);
    platform = await s.newClient('platform', ['admin:keys', 'audit:read']);
    acme = await s.newClient('acme', ['admin:keys', 'admin:users', 'audit:read']);
    globex = await s.newClient('globex', ['admin:users']);
    reader = await s.newClient('acme', ['audit:read']);
  });
  afterAll(async () => s?.close());

  const auditedBy = (action: string, target: string, clientId: string, token: string) =>
    eventually(async () => {
      const res = await s.http.call(`/v1/audit-events?action=${action}&limit=100`, { token });
      return (res.body.data as { target: string; actor: { client_id: string } }[]).some(
        (e) => e.target === target && e.actor.client_id === clientId,
      );
    }, `${action} of ${target} by ${clientId}`);

  it('the platform reads and rotates the key ring; a tenant cannot', async () => {
    const before = await s.http.call('/v1/admin/keys', { token: platform.token });
    expect(before.status).toBe(200);
    expect(before.body.active_version).toBe(1);
    expect(before.body.versions).toEqual([expect.objectContaining({ version: 1, status: 'active' })]);
    expect(JSON.stringify(before.body)).not.toMatch(/"(d|k|x)":/); // versions and ids, never key material

    expect((await s.http.call('/v1/admin/keys', { token: acme.token })).body.code).toBe('forbidden');
    expect((await s.http.call('/v1/admin/keys/rotate', { token: acme.token, body: {} })).body.code).toBe('forbidden');
    expect((await s.http.call('/v1/admin/keys', { token: reader.token })).body.code).toBe('insufficient_scope');

    const rotated = await s.http.call('/v1/admin/keys/rotate', { token: platform.token, body: {} });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ new_version: 2, retired_versions: [1] });
    const after = await s.http.call('/v1/admin/keys', { token: platform.token });
    expect(after.body.active_version).toBe(2);
    await auditedBy('key.rotate', 'kek-v2', platform.clientId, platform.token);
  });

  it('the platform rotates the receipt key; the old one stays published', async () => {
    const first = (await s.http.call('/v1/admin/keys', { token: platform.token })).body.receipt_keys as { kid: string; current: boolean }[];
    const rotated = await s.http.call('/v1/admin/keys/receipt/rotate', { token: platform.token, body: {} });
    expect(rotated.status).toBe(200);
    const after = (await s.http.call('/v1/admin/keys', { token: platform.token })).body.receipt_keys as { kid: string; current: boolean }[];
    expect(after.find((k) => k.current)?.kid).toBe(rotated.body.kid);
    for (const k of first) expect(after.map((a) => a.kid)).toContain(k.kid);
    const published = (await s.http.call('/.well-known/receipt-keys')).body.keys as { kid: string }[];
    expect(published.map((k) => k.kid)).toContain(rotated.body.kid);
  });

  it("a tenant's admin manages its own users, never another tenant's", async () => {
    const users = s.server.services.identity.users;
    const olga = await users.create({ tenant: 'acme', email: 'olga@acme.example', password: PASSWORD, role: 'operator' });
    await users.create({ tenant: 'acme', email: 'aude@acme.example', password: PASSWORD, role: 'auditor' });
    const gus = await users.create({ tenant: 'globex', email: 'gus@globex.example', password: PASSWORD, role: 'auditor' });

    const listed = await s.http.call('/v1/admin/users', { token: acme.token });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(2);
    expect(JSON.stringify(listed.body)).not.toContain('@acme.example'); // no personal data in a listing
    expect(listed.body.data.find((u: { id: string }) => u.id === olga.user_id)).toMatchObject({
      role: 'operator',
      status: 'active',
      mfa: 'none',
    });
    const found = await s.http.call('/v1/admin/users?email=OLGA@acme.example', { token: acme.token });
    expect(found.body.data.map((u: { id: string }) => u.id)).toEqual([olga.user_id]);
    expect((await s.http.call('/v1/admin/users', { token: globex.token })).body.data.map((u: { id: string }) => u.id)).toEqual([
      gus.user_id,
    ]);

    // Another tenant's user reads as missing.
    expect((await s.http.call(`/v1/admin/users/${olga.user_id}/disable`, { token: globex.token, body: {} })).status).toBe(404);

    const demoted = await s.http.call(`/v1/admin/users/${olga.user_id}/role`, {
      method: 'PUT',
      token: acme.token,
      body: { role: 'auditor' },
    });
    expect(demoted.status).toBe(200);
    expect(demoted.body).toMatchObject({ user_id: olga.user_id, role: 'auditor', status: 'active' });
    const reset = await s.http.call(`/v1/admin/users/${olga.user_id}/reset-mfa`, { token: acme.token, body: {} });
    expect(reset.status).toBe(200);
    expect(reset.body.enrolment_code).toEqual(expect.any(String));
    const disabled = await s.http.call(`/v1/admin/users/${olga.user_id}/disable`, { token: acme.token, body: {} });
    expect(disabled.body.status).toBe('disabled');
    expect((await users.signIn(olga.tenant_id, 'olga@acme.example', PASSWORD, '127.0.0.1')).ok).toBe(false);

    await auditedBy('user.role_change', olga.user_id, acme.clientId, acme.token);
    await auditedBy('user.disable', olga.user_id, acme.clientId, acme.token);
    await auditedBy('user.mfa_reset', olga.user_id, acme.clientId, acme.token);
  });

  it('bad input is refused and changes nothing', async () => {
    expect((await s.http.call('/v1/admin/users/nope/disable', { token: acme.token, body: {} })).body.code).toBe('validation_failed');
    const unknown = await s.http.call('/v1/admin/users/usr_00000000000000000000000000/role', {
      method: 'PUT',
      token: acme.token,
      body: { role: 'root' },
    });
    expect(unknown.body.code).toBe('validation_failed');
    expect((await s.http.call('/v1/admin/users/usr_00000000000000000000000000/disable', { token: acme.token, body: {} })).status).toBe(404);
    expect((await s.http.call('/v1/admin/keys/rotate', { token: platform.token, body: { version: 9 } })).body.code).toBe(
      'validation_failed',
    );
  });
});
