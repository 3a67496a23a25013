// The console's test world: the front end built from source, a real vaultgate (SQLite, HTTPS on
// a free loopback port), a tenant with an admin (TOTP enrolled), an auditor and a customer, and
// a signed-in browser session per role, driven through the real sign-in pages.
import { authenticator } from 'otplib';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { ensureConsoleBuilt } from './console-build.js';

/** How long a test waits for what it expects to appear: a ceiling, never a measure. */
export const WAIT = { timeout: 10_000 };

export const PASSWORD = 'correct horse battery staple';
export const TENANT = 'acme';

/** A TOTP code of the time step `offset` steps from now (the window accepts one either side). */
export const totpAt = (secret: string, offset: number) =>
  authenticator.clone({ window: 1, step: 30, digits: 6, epoch: Date.now() + offset * 30_000 }).generate(secret);

export interface World {
  s: TestServer;
  adminSecret: string;
  adminId: string;
  /** The tenant's service client (all API scopes; only customers:write exercised). */
  svc: { clientId: string; token: string };
  users: { admin: string; auditor: string; customer: string; operator: string };
  /** The operator's one-time TOTP enrolment code (its first sign-in enrols). */
  operatorEnrolment: string;
}

export async function startWorld(): Promise<World> {
  await ensureConsoleBuilt();
  const s = await startTestServer('sqlite');
  const svc = await s.newClient(TENANT);
  const customer = (await s.http.call('/v1/customers', { token: svc.token, body: { full_name: 'Ada A', email: 'ada@example.com' } })).body
    .id;
  const users = s.server.services.identity.users;
  const admin = await users.create({ tenant: TENANT, email: 'root@acme.example', password: PASSWORD, role: 'admin' });
  // TOTP enrolled the way the first sign-in does it, with the code of the previous step, so the
  // browser's sign-in (current step) is not a reuse of it.
  const started = await users.startEnrolment(admin.user_id, admin.enrolment_code!, 'vaultgate', '127.0.0.1');
  expect(await users.confirmEnrolment(admin.user_id, totpAt(started!.secret, -1), '127.0.0.1')).toBeDefined();
  await users.create({ tenant: TENANT, email: 'aude@acme.example', password: PASSWORD, role: 'auditor' });
  const operator = await users.create({ tenant: TENANT, email: 'olga@acme.example', password: PASSWORD, role: 'operator' });
  await users.create({ tenant: TENANT, email: 'ada@acme.example', password: PASSWORD, role: 'customer', customerId: customer });
  return {
    s,
    svc: { clientId: svc.clientId, token: svc.token },
    adminSecret: started!.secret,
    adminId: admin.user_id,
    operatorEnrolment: operator.enrolment_code!,
    users: { admin: 'root@acme.example', auditor: 'aude@acme.example', customer: 'ada@acme.example', operator: 'olga@acme.example' },
  };
}

/** The console's form, then the platform's password page, submitted (what comes next is the caller's). */
export async function signInUpToPassword(page: Page, base: string, email: string, tenant = TENANT): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.getByLabel('Organisation (tenant name)').fill(tenant);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/oauth\/interaction\//);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/**
 * The sign-in as a person does it: the console's form, then the platform's pages (password,
 * TOTP when asked, consent). Returns when the browser is back on a console page.
 */
export async function signIn(
  page: Page,
  base: string,
  email: string,
  mfa: { totpSecret?: string; enrolmentCode?: string; tenant?: string } = {},
): Promise<void> {
  await signInUpToPassword(page, base, email, mfa.tenant);
  await page.waitForLoadState('domcontentloaded');
  if (mfa.totpSecret) {
    await expect.poll(() => page.title(), WAIT).toBe('Two-step verification');
    await page.getByLabel('Code', { exact: true }).fill(totpAt(mfa.totpSecret, 0));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForLoadState('domcontentloaded');
  }
  if (mfa.enrolmentCode) {
    // The first sign-in of a role that needs TOTP: the one-time enrolment code, then the key.
    await page.getByLabel('Enrolment code').fill(mfa.enrolmentCode);
    await page.getByRole('button', { name: 'Continue' }).click();
    const secret = await page.locator('#totp-secret').textContent();
    await page.getByLabel('Code', { exact: true }).fill(totpAt(secret!, 0));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => page.title(), WAIT).toBe('Recovery codes');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForLoadState('domcontentloaded');
  }
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/\/console\//).catch(async (err: unknown) => {
    throw new Error(`sign-in did not come back to the console: at ${page.url()}: ${(await page.content()).slice(0, 600)}`, { cause: err });
  });
}
