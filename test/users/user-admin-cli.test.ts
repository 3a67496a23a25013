// Follow-up 5: `vaultgate users create|set-role|disable|reset-mfa` against a running server's
// database: --json prints one document, mistakes are one line on stderr; each change is audited,
// and a demotion or a disable applies to the user's existing tokens at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { registerFapiClient, type FapiClient } from '../fapi/fapi-client.js';
import { apiCall, cli, signIn, tokenFor } from './support.js';

const PASSWORD = 'correct horse battery staple';

describe('vaultgate users: create, set-role, disable, reset-mfa', () => {
  let s: TestServer;
  let app: FapiClient;
  beforeAll(async () => {
    s = await startTestServer('sqlite');
    app = await registerFapiClient(s, 'acme', ['accounts:read', 'audit:read']);
  });
  afterAll(async () => s?.close());

  const users = (args: string[], input?: string) => cli(['users', ...args, '--json'], s.env, input);

  it('create prints the enrolment code only for roles that need TOTP', async () => {
    const op = await users(
      ['create', '--tenant', 'acme', '--email', 'op@acme.example', '--role', 'operator', '--password-stdin'],
      `${PASSWORD}\n`,
    );
    expect(op.code).toBe(0);
    const doc = JSON.parse(op.stdout);
    expect(Object.keys(doc).sort()).toEqual(['customer_id', 'enrolment_code', 'enrolment_code_expires_at', 'role', 'tenant_id', 'user_id']);
    expect(doc.enrolment_code.replace(/-/g, '').length).toBeGreaterThanOrEqual(20);
    const aud = await users(
      ['create', '--tenant', 'acme', '--email', 'aud@acme.example', '--role', 'auditor', '--password-stdin'],
      `${PASSWORD}\n`,
    );
    expect(JSON.parse(aud.stdout).enrolment_code).toBeUndefined();
  });

  // @control PCI-10.2.1.2, PCI-10.2.1.5
  it('set-role: audited, applies to existing tokens at once, and a promotion into a TOTP role needs enrolment', async () => {
    const t = await tokenFor(s, app, { email: 'aud@acme.example', password: PASSWORD }, 'audit:read');
    expect((await apiCall(s, '/v1/audit-events?limit=1', t)).status).toBe(200);

    const res = await users(['set-role', '--tenant', 'acme', '--email', 'aud@acme.example', '--role', 'operator']);
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout);
    expect(doc).toMatchObject({ role: 'operator', status: 'active', enrolment_code: expect.stringMatching(/^[0-9a-f-]{29}$/) });
    const after = await apiCall(s, '/v1/audit-events?limit=1', t);
    expect({ status: after.status, code: after.body.code }).toEqual({ status: 403, code: 'insufficient_scope' });
    // The next sign-in asks for the enrolment code before anything else.
    expect((await signIn(s, app, { email: 'aud@acme.example', password: PASSWORD })).location).toBe('enrolment-refused');

    const events = await s.database.db.query<{ user_id: string; details: string }>(
      "SELECT user_id, details FROM audit_events WHERE action = 'user.role_change'",
    );
    expect(events).toHaveLength(1);
    expect(events[0]!.user_id).toBe(doc.user_id);
    expect(JSON.parse(events[0]!.details)).toEqual({ from: 'auditor', to: 'operator' });
  });

  // @control PCI-10.2.1.5
  it('disable: audited, the existing token stops working at once, and sign-in is refused', async () => {
    await users(['create', '--tenant', 'acme', '--email', 'aud2@acme.example', '--role', 'auditor', '--password-stdin'], `${PASSWORD}\n`);
    const t = await tokenFor(s, app, { email: 'aud2@acme.example', password: PASSWORD }, 'audit:read');
    expect((await apiCall(s, '/v1/audit-events?limit=1', t)).status).toBe(200);

    const res = await users(['disable', '--tenant', 'acme', '--email', 'aud2@acme.example']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ role: 'auditor', status: 'disabled' });
    const after = await apiCall(s, '/v1/audit-events?limit=1', t);
    expect({ status: after.status, code: after.body.code }).toEqual({ status: 401, code: 'invalid_token' });
    expect((await signIn(s, app, { email: 'aud2@acme.example', password: PASSWORD })).location).toBe('login-refused');
    expect(await s.database.db.query("SELECT 1 AS one FROM audit_events WHERE action = 'user.disable'")).toHaveLength(1);
  });

  it('reset-mfa prints a new code; mistakes are one line on stderr and nothing on stdout', async () => {
    const reset = await users(['reset-mfa', '--tenant', 'acme', '--email', 'op@acme.example']);
    expect(reset.code).toBe(0);
    expect(JSON.parse(reset.stdout).enrolment_code).toMatch(/^[0-9a-f-]{29}$/);

    for (const args of [
      ['disable', '--tenant', 'acme', '--email', 'nobody@acme.example'],
      ['set-role', '--tenant', 'acme', '--email', 'op@acme.example', '--role', 'root'],
      ['set-role', '--tenant', 'acme', '--email', 'op@acme.example', '--role', 'customer'],
      ['disable', '--tenant', 'acme'],
    ]) {
      const bad = await users(args);
      expect(bad.code).not.toBe(0);
      expect(bad.stdout).toBe('');
      const lines = bad.stderr.split('\n').filter((l) => l.startsWith('vaultgate:'));
      expect(lines).toHaveLength(1);
      expect(bad.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
