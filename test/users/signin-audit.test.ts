// Follow-up 2: failed sign-ins name the account in the audit log without personal data — its
// blind index in `target`, its id in `user_id` when it exists — so the detector's per-account rule
// raises `sign_in_failures`; the e-mail appears nowhere in audit_events.
import { afterAll, beforeAll, expect, it, describe } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { registerFapiClient, type FapiClient } from '../fapi/fapi-client.js';
import { dump, signIn } from './support.js';

const PASSWORD = 'correct horse battery staple';
const EMAIL = 'Carla.Failing@acme.example';

describe('sign-in failure events and the sign_in_failures alert', () => {
  let s: TestServer;
  let app: FapiClient;
  let userId: string;

  beforeAll(async () => {
    s = await startTestServer('sqlite');
    const svc = await s.newClient('acme', ['customers:write']);
    const customer = (await s.http.call('/v1/customers', { token: svc.token, body: { full_name: 'Carla C', email: 'carla@example.com' } }))
      .body.id;
    userId = (
      await s.server.services.identity.users.create({
        tenant: 'acme',
        email: EMAIL,
        password: PASSWORD,
        role: 'customer',
        customerId: customer,
      })
    ).user_id;
    app = await registerFapiClient(s, 'acme', ['accounts:read']);
  });
  afterAll(async () => s?.close());

  // @control PCI-10.2.1.4, PCI-10.4.1
  it('five failures for one account raise the alert; events carry the blind index and user id, never the e-mail', async () => {
    const soc = await s.newClient('platform', ['alerts:read']);
    const alerts = async () =>
      (await s.http.call('/v1/alerts', { token: soc.token })).body.data as Array<{ rule: string; subject: string }>;
    expect((await alerts()).filter((x) => x.rule === 'sign_in_failures')).toEqual([]);

    // The default threshold is 5 failures in 300 s; the default lockout starts after the 5th.
    for (let i = 0; i < 5; i++) {
      expect((await signIn(s, app, { email: EMAIL, password: `wrong password ${i}` })).location).toBe('login-refused');
    }
    await expect
      .poll(async () => (await alerts()).filter((x) => x.rule === 'sign_in_failures').map((x) => x.subject), { timeout: 5000 })
      .toEqual([`account:${userId}`]);

    const failures = await s.database.db.query<{ target: string | null; user_id: string | null }>(
      "SELECT target, user_id FROM audit_events WHERE action = 'auth.sign_in' AND outcome = 'failure'",
    );
    expect(failures).toHaveLength(5);
    const targets = new Set(failures.map((f) => f.target));
    expect(targets.size).toBe(1);
    expect([...targets][0]).toMatch(/^[0-9a-f]{64}$/);
    expect(failures.every((f) => f.user_id === userId)).toBe(true);

    // An unknown login: named by its blind index only (no user id), still per account.
    expect((await signIn(s, app, { email: 'ghost@acme.example', password: PASSWORD })).location).toBe('login-refused');
    const ghost = await s.database.db.query<{ target: string | null; user_id: string | null }>(
      "SELECT target, user_id FROM audit_events WHERE action = 'auth.sign_in' AND outcome = 'failure' AND user_id IS NULL",
    );
    expect(ghost).toHaveLength(1);
    expect(ghost[0]!.target).toMatch(/^[0-9a-f]{64}$/);
    expect(targets.has(ghost[0]!.target)).toBe(false);

    const everything = dump(await s.database.db.query('SELECT * FROM audit_events')).toLowerCase();
    for (const e of [EMAIL.toLowerCase(), 'ghost@acme.example', 'carla@example.com']) expect(everything).not.toContain(e);
  });
});
