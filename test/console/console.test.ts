// The security console in a real browser (issue 16, first step): sign-in with password and TOTP,
// an alert raised by a scripted attack appearing live, an audit search with its chain check, the
// clients page, an auditor who can read but not change, a customer who cannot get in, sign-out
// ending the session and the grant; no CSP violation and no serious accessibility violation on
// any page. CONSOLE_SCREENSHOTS=1 also writes docs/console/<page>.png at 1280×800.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { seriousViolations } from './axe.js';
import { describeBrowser, launch, watchedContext, type Watched } from './browser.js';
import { PASSWORD, signIn, startWorld, TENANT, WAIT, type World } from './console-setup.js';

const SHOTS = process.env.CONSOLE_SCREENSHOTS === '1' ? path.resolve(import.meta.dirname, '../../docs/console') : undefined;

describeBrowser('security console in Chromium', () => {
  let w: World;
  let browser: Browser;
  let admin: Watched;
  let page: Page;
  const watched: Watched[] = [];

  async function context(viewport?: { width: number; height: number }) {
    const c = await watchedContext(browser, w.s.url, viewport);
    watched.push(c);
    return c;
  }

  /** The user's grants at the authorization server (oidc-provider's Grant model, in its table). */
  async function grants(userId: string): Promise<number> {
    const row = await w.s.database.db.one<{ n: number }>(
      "SELECT COUNT(*) AS n FROM oidc_payloads WHERE model = 'Grant' AND account_id = $1",
      [userId],
    );
    return Number(row?.n ?? 0);
  }

  async function checkPage(p: Page, name: string) {
    expect(await seriousViolations(p), `axe on ${name}`).toEqual([]);
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      await p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
    }
  }

  beforeAll(async () => {
    [w, browser] = await Promise.all([startWorld(), launch()]);
    admin = await context();
    page = await admin.context.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await w?.s.close();
  });

  it('the sign-in page is accessible and names what it is for', async () => {
    const p = await (await context()).context.newPage();
    await p.goto(`${w.s.url}/console/`);
    await expect.poll(() => p.getByRole('heading', { level: 1 }).textContent(), WAIT).toBe('vaultgate security console');
    await checkPage(p, 'sign-in');
    // Keyboard: the first Tab reaches the skip link, the next ones the form.
    await p.keyboard.press('Tab');
    expect(await p.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await p.keyboard.press('Tab');
    expect(await p.evaluate(() => document.activeElement?.id)).toBe('tenant');
  });

  it('an admin signs in with password and TOTP; the browser holds only a __Host- session cookie', async () => {
    await signIn(page, w.s.url, w.users.admin, { totpSecret: w.adminSecret });
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), WAIT).toBe('Overview');
    await expect.poll(() => page.locator('.who').textContent(), WAIT).toContain('Administrator');
    const cookies = await admin.context.cookies(w.s.url);
    expect(cookies.map((c) => c.name)).toEqual(expect.arrayContaining(['__Host-vg-console']));
    const session = cookies.find((c) => c.name === '__Host-vg-console')!;
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
    // No token anywhere the page's script can read.
    const visible = await page.evaluate(() => JSON.stringify({ c: document.cookie, l: { ...localStorage }, s: { ...sessionStorage } }));
    expect(visible).not.toMatch(/eyJ/);
    await page.getByRole('heading', { name: 'Top clients, last hour' }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('an alert raised by a scripted attack appears live, without a reload', async () => {
    await page.goto(`${w.s.url}/console/alerts`);
    await expect.poll(() => page.locator('#stream-status').textContent(), WAIT).toMatch(/^Live/);
    let reloaded = false;
    page.on('framenavigated', () => (reloaded = true));
    // The attack: a client walks account ids it does not own (object-level authorization scanning).
    const attacker = await w.s.newClient(TENANT, ['accounts:read']);
    for (let i = 0; i < 10; i++) {
      const res = await w.s.http.call(`/v1/accounts/acc_${'0'.repeat(10)}${randomBytes(8).toString('hex')}`, { token: attacker.token });
      expect(res.status).toBe(404);
    }
    const row = page.locator('#alert-rows tr', { hasText: attacker.clientId });
    await row.waitFor();
    expect(await row.textContent()).toContain('object_scanning');
    expect(await page.locator('#announcer').textContent()).toMatch(/^New high alert/);
    expect(reloaded).toBe(false);
    await checkPage(page, 'alerts');
    // The overview counts it.
    await page.goto(`${w.s.url}/console/`);
    const high = page.getByRole('region', { name: /Open alerts by severity/ }).locator('tr', { hasText: 'high' });
    await expect.poll(() => high.locator('td').nth(1).textContent(), WAIT).toBe('1');
    await checkPage(page, 'overview');
  });

  it('an audit search filters the log and checks the chain of what it shows', async () => {
    await page.goto(`${w.s.url}/console/audit`);
    await page.getByLabel('Action').fill('client.create');
    await page.getByLabel('Outcome').selectOption('success');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/action=client\.create/);
    await page.locator('#audit-results table').waitFor();
    const actions = await page.locator('#audit-results tbody tr td:nth-child(3)').allTextContents();
    // The service client, the console's own client and the attacker's: every row is one.
    expect(actions.length).toBeGreaterThanOrEqual(3);
    expect(new Set(actions)).toEqual(new Set(['client.create']));
    await expect.poll(() => page.locator('#chain-status').textContent(), WAIT).toMatch(/^Chain intact for the \d+ events shown/);
    // The server's own check of the whole chain, said beside it (a tenant's admin is not told its size).
    await expect
      .poll(() => page.locator('#chain-verification').textContent(), WAIT)
      .toMatch(/^Whole chain: (last verified intact by the server at .+ UTC\.|the server has not verified it yet)/);
    // A search the API refuses is said as such.
    await page.goto(`${w.s.url}/console/audit?action=no.such.action`);
    await expect.poll(() => page.locator('#audit-results').textContent(), WAIT).toMatch(/The search was refused: .*action/);
    await page.goto(`${w.s.url}/console/audit`);
    await page.locator('#audit-results table').waitFor();
    await expect.poll(() => page.locator('#chain-status').textContent(), WAIT).toMatch(/^Chain intact/);
    await checkPage(page, 'audit');
  });

  it('the clients page lists the tenant’s clients and the access review', async () => {
    await page.goto(`${w.s.url}/console/clients`);
    await page.getByRole('region', { name: 'Clients of this tenant' }).waitFor();
    const text = await page.getByRole('region', { name: 'Clients of this tenant' }).textContent();
    expect(text).toContain('vaultgate console');
    await page.getByRole('region', { name: 'Registered versus exercised scopes' }).waitFor();
    await checkPage(page, 'clients');
  });

  it('an unused scope is removed in one click, and the client’s next call is refused', async () => {
    await page.goto(`${w.s.url}/console/clients`);
    await page.getByRole('button', { name: 'Remove ledger:fund from test-acme' }).click();
    await page.waitForLoadState('load');
    await page.getByRole('region', { name: 'Registered versus exercised scopes' }).waitFor();
    await expect.poll(() => page.getByRole('button', { name: 'Remove ledger:fund from test-acme' }).count(), WAIT).toBe(0);
    const client = await w.s.server.services.identity.clients.get(w.svc.clientId);
    expect(client!.scopes).not.toContain('ledger:fund');
    // The token it already holds no longer carries the permission.
    const res = await w.s.http.call('/v1/deposits', {
      token: w.svc.token,
      headers: { 'idempotency-key': 'after-removal' },
      body: { account_id: 'acc_00000000000000000000000000', amount: 100, currency: 'EUR', reference: 'x' },
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('insufficient_scope');
  });

  it('an admin revokes a client through the confirm step, and the client’s token is then refused', async () => {
    const victim = await w.s.newClient(TENANT, ['accounts:read']);
    const before = await w.s.http.call('/v1/accounts', { token: victim.token });
    expect(before.status).toBe(200);
    await page.goto(`${w.s.url}/console/clients`);
    const name = new RegExp(`^Revoke .* \\(${victim.clientId}\\)$`);
    const revoke = page.getByRole('button', { name });
    await revoke.waitFor();
    // The console's own client is never offered.
    const own = await page.evaluate(async () => ((await (await fetch('/console/api/session')).json()) as { client_id: string }).client_id);
    expect(own).toMatch(/^cli_/);
    expect(await page.getByRole('button', { name: new RegExp(own) }).count()).toBe(0);
    // Cancel first: nothing happens.
    await revoke.click();
    await page.getByRole('group', { name: new RegExp(`^Confirm: Revoke .* \\(${victim.clientId}\\)$`) }).waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent), WAIT).toBe('Confirm revocation');
    await page.getByRole('button', { name: 'Cancel' }).click();
    expect((await w.s.server.services.identity.clients.get(victim.clientId))!.status).toBe('active');
    // Then by keyboard: the focus is on Confirm.
    await revoke.click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent), WAIT).toBe('Confirm revocation');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await w.s.server.services.identity.clients.get(victim.clientId))!.status, WAIT).toBe('revoked');
    await page.waitForLoadState('load');
    await page.getByRole('region', { name: 'Clients of this tenant' }).waitFor();
    await expect.poll(() => page.getByRole('button', { name }).count(), WAIT).toBe(0);
    // The token it already holds is refused by the API.
    const after = await w.s.http.call('/v1/accounts', { token: victim.token });
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('invalid_token');
    await checkPage(page, 'clients');
  });

  it('pages stay readable at 390 px: nothing wider than the screen', async () => {
    const phone = (await context({ width: 390, height: 844 })).context;
    await phone.addCookies(await admin.context.cookies(w.s.url));
    const p = await phone.newPage();
    for (const name of ['', 'alerts', 'audit', 'clients']) {
      await p.goto(`${w.s.url}/console/${name}`);
      await p.locator('main h1').waitFor();
      await p.waitForLoadState('networkidle');
      expect(await p.evaluate(() => document.documentElement.scrollWidth), `/console/${name}`).toBeLessThanOrEqual(390);
      if (SHOTS && name === '') await p.screenshot({ path: path.join(SHOTS, 'overview-phone.png') });
    }
    await p.close();
  });

  it('an auditor reads the audit log but cannot change anything, and the BFF adds no power', async () => {
    const auditor = await context();
    const p = await auditor.context.newPage();
    await signIn(p, w.s.url, w.users.auditor);
    await expect.poll(() => p.locator('.who').textContent(), WAIT).toContain('Auditor');
    // What the role cannot do is shown as such.
    const disabled = p.locator('nav [aria-disabled="true"]');
    expect(await disabled.allTextContents()).toEqual([
      'Clients (needs admin:clients)',
      'Usage (needs analytics:read)',
      'Keys (needs admin:keys)',
      'Webhooks (needs webhooks:manage)',
      'Users (needs admin:users)',
    ]);
    await p.goto(`${w.s.url}/console/audit`);
    await p.locator('#audit-results table').waitFor();
    await p.goto(`${w.s.url}/console/clients`);
    await expect.poll(() => p.locator('main .notice').textContent(), WAIT).toContain('needs the admin:clients permission');
    await checkPage(p, 'auditor-clients');
    // Straight at the relay: the API itself refuses (the auditor's token has no admin:clients)…
    const attempt = await p.evaluate(async () => {
      const s = (await (await fetch('/console/api/session')).json()) as { csrf: string };
      const change = (headers: Record<string, string>) =>
        fetch('/console/api/v1/admin/clients/cli_00000000000000000000000000/scopes', {
          method: 'PUT',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ scopes: ['audit:read'] }),
        }).then(async (r) => ({ status: r.status, code: ((await r.json()) as { code: string }).code }));
      return { withCsrf: await change({ 'x-csrf-token': s.csrf }), withoutCsrf: await change({}) };
    });
    expect(attempt.withCsrf).toEqual({ status: 403, code: 'insufficient_scope' });
    // …and without the session's CSRF token the change never reaches the API.
    expect(attempt.withoutCsrf).toEqual({ status: 403, code: 'csrf_failed' });
    // A forged revocation likewise.
    const target = w.svc.clientId;
    const revoke = await p.evaluate(async (id) => {
      const s = (await (await fetch('/console/api/session')).json()) as { csrf: string };
      const del = (headers: Record<string, string>) =>
        fetch(`/console/api/v1/admin/clients/${id}`, { method: 'DELETE', headers }).then(async (r) => ({
          status: r.status,
          code: ((await r.json()) as { code: string }).code,
        }));
      return { withCsrf: await del({ 'x-csrf-token': s.csrf }), withoutCsrf: await del({}) };
    }, target);
    expect(revoke).toEqual({ withCsrf: { status: 403, code: 'insufficient_scope' }, withoutCsrf: { status: 403, code: 'csrf_failed' } });
    expect((await w.s.server.services.identity.clients.get(target))!.status).toBe('active');
    await p.close();
  });

  it('an operator’s first sign-in enrols TOTP; it sees alerts, and audit and clients are not for it', async () => {
    const c = await context();
    const p = await c.context.newPage();
    await signIn(p, w.s.url, w.users.operator, { enrolmentCode: w.operatorEnrolment });
    await expect.poll(() => p.locator('.who').textContent(), WAIT).toContain('Operator');
    expect(await p.locator('nav [aria-disabled="true"]').allTextContents()).toEqual([
      'Audit log (needs audit:read)',
      'Clients (needs admin:clients)',
      'Usage (needs analytics:read)',
      'Security scans (needs audit:read)',
      'Keys (needs admin:keys)',
      'Webhooks (needs webhooks:manage)',
      'Users (needs admin:users)',
    ]);
    // The overview says what the role cannot see instead of failing.
    await expect.poll(() => p.locator('main .notice').first().textContent(), WAIT).toContain('needs analytics:read');
    await p.goto(`${w.s.url}/console/alerts`);
    await p.locator('#alert-rows tr').first().waitFor();
    await p.close();
  });

  it('a customer user cannot open the console', async () => {
    const c = await context();
    const p = await c.context.newPage();
    await signIn(p, w.s.url, w.users.customer);
    expect(new URL(p.url()).pathname).toBe('/console/refused');
    await expect.poll(() => p.getByRole('heading', { level: 1 }).textContent(), WAIT).toBe('This account cannot use the console');
    expect((await c.context.cookies(w.s.url)).some((k) => k.name === '__Host-vg-console')).toBe(false);
    const status = await p.evaluate(async () => (await fetch('/console/api/session')).status);
    expect(status).toBe(401);
    await checkPage(p, 'refused');
  });

  it('sign-out ends the session and the grant', async () => {
    expect(await grants(w.adminId)).toBeGreaterThan(0);
    const before = (await admin.context.cookies(w.s.url)).find((c) => c.name === '__Host-vg-console')!;
    await page.goto(`${w.s.url}/console/`);
    await page.getByRole('heading', { name: 'Top clients, last hour' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/signed_out=1/);
    await expect.poll(() => page.getByRole('status').first().textContent(), WAIT).toBe('You are signed out.');
    expect((await admin.context.cookies(w.s.url)).some((c) => c.name === '__Host-vg-console')).toBe(false);
    // The old cookie is worth nothing now.
    await admin.context.addCookies([before]);
    expect(await page.evaluate(async () => (await fetch('/console/api/session')).status)).toBe(401);
    // The grant ended at the authorization server (its refresh token revoked): none is left for the user.
    expect(await grants(w.adminId)).toBe(0);
  });

  it('signing in again after a sign-out asks for the password and the second factor again', async () => {
    // The browser still holds the platform's sign-in (its session cookie); prompt=login overrides it.
    expect((await admin.context.cookies(w.s.url)).some((c) => !c.name.startsWith('__Host-vg-console'))).toBe(true);
    await page.goto(`${w.s.url}/console/`);
    await page.getByLabel('Organisation (tenant name)').fill(TENANT);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/oauth\/interaction\//);
    await expect.poll(() => page.getByLabel('Password').count(), WAIT).toBe(1);
    await page.getByLabel('E-mail').fill(w.users.admin);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState('domcontentloaded');
    await expect.poll(() => page.title(), WAIT).toBe('Two-step verification');
  });

  it('no page reported a CSP violation, a console error or a request to another origin', () => {
    expect(watched.flatMap((c) => c.problems)).toEqual([]);
  });
});
