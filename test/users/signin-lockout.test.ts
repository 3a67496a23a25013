// Follow-up 1: sign-in throttling is shared across nodes. Two vaultgate processes on one database
// and one Redis: failed sign-ins on node A lock the account on node B, with the generic answer,
// and the lockout is audited with the account's blind index (never its e-mail).
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { registerFapiClient, type FapiClient } from '../fapi/fapi-client.js';
import { describeRedis, redisUrl, uniqueRedisPrefix } from '../support/databases.js';
import { writeConfig } from '../traffic/support.js';
import { dump, fromAddress, pageMessage, signIn } from './support.js';

const PASSWORD = 'correct horse battery staple';
const silent = () => createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));

describeRedis('sign-in lockouts shared by two nodes through Redis', () => {
  let a: TestServer;
  let b: RunningServer;
  let attackerOnA: TestServer;
  let victimOnB: TestServer;
  let app: FapiClient;

  beforeAll(async () => {
    const config = writeConfig(`
rate_limits:
  redis_key_prefix: "${uniqueRedisPrefix()}"
  brute_force: { free_attempts: 3, base_lockout_seconds: 600, max_lockout_seconds: 3600, window_seconds: 3600 }
`);
    a = await startTestServer('sqlite', { REDIS_URL: redisUrl(), VAULTGATE_CONFIG: config });
    b = await startServer(loadConfig(a.env), { logger: silent() });
    // Two source addresses, so the account's lock is told apart from the attacker's IP lock.
    attackerOnA = fromAddress(a, a.url, '127.0.0.2');
    victimOnB = fromAddress(a, b.url, '127.0.0.1');
    const svc = await a.newClient('acme', ['customers:write', 'accounts:write']);
    const customer = (await a.http.call('/v1/customers', { token: svc.token, body: { full_name: 'Ada A', email: 'a@example.com' } })).body
      .id;
    const users = a.server.services.identity.users;
    await users.create({ tenant: 'acme', email: 'ada@acme.example', password: PASSWORD, role: 'customer', customerId: customer });
    await users.create({ tenant: 'acme', email: 'bea@acme.example', password: PASSWORD, role: 'customer', customerId: customer });
    app = await registerFapiClient(a, 'acme', ['accounts:read']);
  });
  afterAll(async () => {
    attackerOnA?.http.close();
    victimOnB?.http.close();
    await b?.close();
    await a?.close();
  });

  // @control PCI-8.3.4
  it('failures on node A lock the account on node B; other accounts still sign in there', async () => {
    // Control: node B signs ada in before the attack.
    expect((await signIn(victimOnB, app, { email: 'ada@acme.example', password: PASSWORD })).code).toBeDefined();

    for (let i = 0; i < 4; i++) {
      const r = await signIn(attackerOnA, app, { email: 'ada@acme.example', password: 'wrong password!!' });
      expect(r.location).toBe('login-refused');
    }
    const unknown = await signIn(victimOnB, app, { email: 'nobody@acme.example', password: PASSWORD });
    const locked = await signIn(victimOnB, app, { email: 'ada@acme.example', password: PASSWORD });
    expect(locked.location).toBe('login-refused');
    // The generic answer: the same as for an account that does not exist.
    expect(pageMessage(locked)).toBe(pageMessage(unknown));
    // Not a global or per-IP effect on B: another account signs in from the same address.
    expect((await signIn(victimOnB, app, { email: 'bea@acme.example', password: PASSWORD })).code).toBeDefined();

    const db = a.database.db;
    const lockouts = await db.query<{ target: string | null; user_id: string | null; details: string; tenant_id: string | null }>(
      "SELECT target, user_id, details, tenant_id FROM audit_events WHERE action = 'ratelimit.lockout' ORDER BY seq",
    );
    const account = lockouts.find((e) => JSON.parse(e.details).kind === 'account');
    expect(account).toBeDefined();
    expect(JSON.parse(account!.details)).toMatchObject({ endpoint: 'sign_in', kind: 'account', failures: 4, lock_seconds: 600 });
    expect(account!.target).toMatch(/^[0-9a-f]{64}$/); // the blind index
    expect(account!.user_id).toMatch(/^usr_/);
    // The attacker's IP gets three times an account's allowance (shared addresses): not locked yet.
    expect(lockouts.some((e) => JSON.parse(e.details).kind === 'ip')).toBe(false);
    for (let i = 0; i < 6; i++) await signIn(attackerOnA, app, { email: `guess${i}@acme.example`, password: 'wrong password!!' });
    const ipLocks = await db.query<{ details: string }>("SELECT details FROM audit_events WHERE action = 'ratelimit.lockout'");
    expect(ipLocks.filter((e) => JSON.parse(e.details).kind === 'ip').map((e) => JSON.parse(e.details).failures)).toEqual([10]);
    const all = dump(await db.query('SELECT * FROM audit_events'));
    expect(all).not.toContain('ada@acme.example');
  });
});
