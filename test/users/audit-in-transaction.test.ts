// Follow-up 3: client and user changes write their audit event in the change's own transaction.
// The real engine refuses the audit insert (a temporary trigger, as test/audit does for transfers):
// the change must not be there afterwards.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Database } from '../../src/storage/types.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { describeEngines, type Engine } from '../support/databases.js';

async function failAuditFor(db: Database, engine: Engine, action: string): Promise<() => Promise<void>> {
  // The action is a constant of this file, never input; triggers cannot take bound parameters.
  if (!/^[a-z_.]+$/.test(action)) throw new Error('bad action');
  if (engine === 'sqlite') {
    await db.run(
      `CREATE TRIGGER audit_fail BEFORE INSERT ON audit_events WHEN NEW.action = '${action}' BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END`,
    );
    return async () => void (await db.run('DROP TRIGGER audit_fail'));
  }
  await db.run(
    "CREATE OR REPLACE FUNCTION audit_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit unavailable'; END $$",
  );
  // A PostgreSQL transaction writes its event to audit_pending; the sealer chains it after commit.
  await db.run(
    `CREATE TRIGGER audit_fail BEFORE INSERT ON audit_pending FOR EACH ROW WHEN (NEW.action = '${action}') EXECUTE FUNCTION audit_fail()`,
  );
  return async () => void (await db.run('DROP TRIGGER audit_fail ON audit_pending'));
}

const count = async (db: Database, sql: string, params: string[] = []) => Number((await db.one<{ n: bigint }>(sql, params))!.n);

describeEngines('client and user changes audited in their own transaction', (engine) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(engine);
  });
  afterAll(async () => s?.close());

  // @control PCI-10.2.1.7
  it('a client create whose audit insert fails leaves no client row (and no new tenant)', async () => {
    const db = s.database.db;
    const clients = s.server.services.identity.clients;
    const restore = await failAuditFor(db, engine, 'client.create');
    await expect(clients.create({ tenant: 'doomed', name: 'doomed', scopes: ['accounts:read'] })).rejects.toThrow();
    await restore();
    expect(await count(db, "SELECT COUNT(*) AS n FROM clients WHERE name = 'doomed'")).toBe(0);
    expect(await count(db, "SELECT COUNT(*) AS n FROM tenants WHERE name = 'doomed'")).toBe(0);

    // Control: the same call succeeds with its event once the audit log works.
    const created = await clients.create({ tenant: 'doomed', name: 'doomed', scopes: ['accounts:read'] });
    expect(
      await count(db, "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'client.create' AND target = $1", [created.client_id]),
    ).toBe(1);
  });

  // @control PCI-10.2.1.5
  it('a revoke or scope change whose audit insert fails changes nothing', async () => {
    const db = s.database.db;
    const clients = s.server.services.identity.clients;
    const { client_id } = await clients.create({ tenant: 'acme', name: 'keeper', scopes: ['accounts:read'] });
    let restore = await failAuditFor(db, engine, 'client.revoke');
    await expect(clients.revoke(client_id)).rejects.toThrow();
    await restore();
    restore = await failAuditFor(db, engine, 'client.scopes_change');
    await expect(clients.setScopes(client_id, ['accounts:read', 'transfers:read'])).rejects.toThrow();
    await restore();
    expect(await clients.get(client_id)).toMatchObject({ status: 'active', scopes: ['accounts:read'] });

    expect(await clients.revoke(client_id)).toBe(true);
    expect(await count(db, "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'client.revoke' AND target = $1", [client_id])).toBe(1);
  });

  // @control PCI-10.2.1.7
  it('a user create whose audit insert fails leaves no user row', async () => {
    const db = s.database.db;
    const users = s.server.services.identity.users;
    const restore = await failAuditFor(db, engine, 'user.create');
    await expect(
      users.create({ tenant: 'acme', email: 'ops@acme.example', password: 'correct horse battery staple', role: 'operator' }),
    ).rejects.toThrow();
    await restore();
    expect(await count(db, 'SELECT COUNT(*) AS n FROM users')).toBe(0);

    const created = await users.create({
      tenant: 'acme',
      email: 'ops@acme.example',
      password: 'correct horse battery staple',
      role: 'operator',
    });
    expect(await count(db, "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'user.create' AND user_id = $1", [created.user_id])).toBe(
      1,
    );
  });
});
