// The console's second step in a real browser (issue 16): acknowledge an alert; usage analytics;
// security scans (the latest report, findings by OWASP category, Run now); keys (status, a KEK
// rotation with its confirm step, the API showing the new active version); webhooks; users (role,
// Disable — the user then cannot sign in — and Reset MFA, the code shown once). An auditor sees
// the action buttons disabled and a forged change is refused; no CSP violation and no serious
// accessibility violation on any page. CONSOLE_SCREENSHOTS=1 also writes docs/console/<page>.png.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { ROLE_SCOPES } from '../../src/lib/roles.js';
import { createScanStore } from '../../src/security-scans/store.js';
import { seriousViolations } from './axe.js';
import { describeBrowser, launch, watchedContext, type Watched } from './browser.js';
import { PASSWORD, signIn, signInUpToPassword, startWorld, TENANT, totpAt, WAIT, type World } from './console-setup.js';

const SHOTS = process.env.CONSOLE_SCREENSHOTS === '1' ? path.resolve(import.meta.dirname, '../../docs/console') : undefined;
const adminHas = (scope: string) => (ROLE_SCOPES.admin as readonly string[]).includes(scope);

describeBrowser('security console in Chromium, step 2: the changes', () => {
  let w: World;
  let browser: Browser;
  let page: Page;
  const watched: Watched[] = [];
  /** Two alerts of the tenant, each raised by a scripted attack (one for the admin, one for the auditor). */
  const attackers: string[] = [];
  let platformSecret: string;
  let victimId: string;
  /** An operator not yet enrolled, whose second factor the admin resets. */
  let resetId: string;
  /** The platform admin's browser context (signed in by the keys test). */
  let platformContext: Watched | undefined;

  async function context(viewport?: { width: number; height: number }) {
    const c = await watchedContext(browser, w.s.url, viewport);
    watched.push(c);
    return c;
  }

  async function checkPage(p: Page, name: string) {
    expect(await seriousViolations(p), `axe on ${name}`).toEqual([]);
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      await p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
    }
  }

  /** A client walking account ids it does not own: the object-scanning rule raises a high alert. */
  async function attack(): Promise<string> {
    const attacker = await w.s.newClient(TENANT, ['accounts:read']);
    for (let i = 0; i < 10; i++) {
      const res = await w.s.http.call(`/v1/accounts/acc_${'0'.repeat(10)}${randomBytes(8).toString('hex')}`, { token: attacker.token });
      expect(res.status).toBe(404);
    }
    return attacker.clientId;
  }

  beforeAll(async () => {
    [w, browser] = await Promise.all([startWorld(), launch()]);
    const users = w.s.server.services.identity.users;
    // The platform tenant's administrator (the keys and the scans are the platform's).
    const root = await users.create({ tenant: 'platform', email: 'root@platform.example', password: PASSWORD, role: 'admin' });
    const started = await users.startEnrolment(root.user_id, root.enrolment_code!, 'vaultgate', '127.0.0.1');
    platformSecret = started!.secret;
    expect(await users.confirmEnrolment(root.user_id, totpAt(platformSecret, -1), '127.0.0.1')).toBeDefined();
    // A user the admin disables from the users page (an auditor: no TOTP needed to try to sign in).
    victimId = (await users.create({ tenant: TENANT, email: 'vic@acme.example', password: PASSWORD, role: 'auditor' })).user_id;
    resetId = (await users.create({ tenant: TENANT, email: 'opal@acme.example', password: PASSWORD, role: 'operator' })).user_id;
    attackers.push(await attack(), await attack());
    // A report in the store, as the scheduled self-audit leaves it.
    await createScanStore(w.s.database.db).save(
      {
        target: w.s.url,
        started_at: new Date(Date.now() - 60_000).toISOString(),
        finished_at: new Date().toISOString(),
        requests_sent: 42,
        checks: [
          { id: 'bola', owasp: 'API1:2023', operations_tested: 12 },
          { id: 'auth-bypass', owasp: 'API2:2023', operations_tested: 20 },
          { id: 'rate-limits', owasp: 'API4:2023', operations_tested: 3 },
        ],
        findings: [
          {
            check: 'rate-limits',
            owasp: 'API4:2023',
            severity: 'low',
            method: 'GET',
            path: '/v1/customers',
            evidence: 'no Retry-After on a 429',
            remediation: 'Send Retry-After with every 429.',
          },
        ],
      },
      'scheduled',
    );
    page = await (await context()).context.newPage();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await w?.s.close();
  });

  it('an admin acknowledges an alert; the row says who and when, and the API has it closed', async () => {
    await signIn(page, w.s.url, w.users.admin, { totpSecret: w.adminSecret });
    await page.goto(`${w.s.url}/console/alerts`);
    const row = page.locator('#alert-rows tr', { hasText: attackers[0]! });
    await row.waitFor();
    await row.getByRole('button', { name: /^Acknowledge / }).click();
    await expect.poll(() => page.locator('#alerts-outcome').textContent(), WAIT).toMatch(/acknowledged\.$/);
    await expect.poll(() => row.locator('.handled').textContent(), WAIT).toMatch(/^Acknowledged by .+, .+ UTC$/);
    expect(await row.locator('td').nth(5).textContent()).toBe('closed');
    const reader = await w.s.newClient(TENANT, ['alerts:read']);
    const alerts = (await w.s.http.call('/v1/alerts?limit=100', { token: reader.token })).body.data as Array<Record<string, unknown>>;
    const acked = alerts.find((a) => String(a.summary).includes(attackers[0]!))!;
    expect(acked).toMatchObject({ status: 'closed' });
    expect(acked.acknowledged_at).toEqual(expect.any(String));
    expect(acked.acknowledged_by).toEqual(expect.any(String));
    // Keyboard: the other alert's button is reachable and named.
    const other = page.locator('#alert-rows tr', { hasText: attackers[1]! }).getByRole('button', { name: /^Acknowledge / });
    await other.focus();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Acknowledge');
    await checkPage(page, 'alerts-acknowledge');
  });

  it('usage analytics: by client, route and status with p50/p95/p99, each chart a table', async () => {
    await page.goto(`${w.s.url}/console/usage`);
    for (const name of ['Requests and latency by client', 'Requests and latency by route', 'Requests and latency by status class']) {
      const region = page.getByRole('region', { name });
      await region.waitFor();
      const headers = await region.locator('th').allTextContents();
      expect(headers).toEqual(expect.arrayContaining(['Requests', 'p50 ms', 'p95 ms', 'p99 ms']));
      // The bars are decoration; the numbers are the text.
      expect(await region.locator('.bar[aria-hidden="true"]').count()).toBeGreaterThan(0);
    }
    expect(await page.getByRole('region', { name: 'Requests and latency by client' }).textContent()).toContain(w.svc.clientId);
    expect(await page.getByRole('region', { name: 'Requests and latency by status class' }).textContent()).toContain('4xx');
    await page.getByRole('link', { name: 'Last 24 hours' }).click();
    await page.waitForURL(/window=24h/);
    await expect.poll(() => page.locator('#usage-total').textContent(), WAIT).toMatch(/^Last 24 hours: \d+ requests\.$/);
    await checkPage(page, 'usage');
  });

  it('keys and scans are the platform’s: a tenant’s admin sees “platform only”', async () => {
    for (const name of ['keys', 'scans']) {
      await page.goto(`${w.s.url}/console/${name}`);
      await expect.poll(() => page.locator('#platform-only').textContent(), WAIT).toContain('platform only');
    }
  });

  it('users: the list without personal data, Reset MFA shows the code once, Disable stops the user signing in', async () => {
    await page.goto(`${w.s.url}/console/users`);
    const table = page.getByRole('region', { name: 'Users of this tenant' });
    await table.waitFor();
    expect(await table.textContent()).not.toContain('@acme.example');
    // The admin's own row cannot be changed here.
    expect(await table.locator(`tr[data-user-id="${w.adminId}"]`).textContent()).toContain('Your own account');
    // Reset MFA of the operator: a one-time code, shown once.
    await page.getByRole('button', { name: `Reset MFA of ${resetId}` }).click();
    await expect.poll(() => page.locator('#enrolment-code-value').textContent(), WAIT).toMatch(/\S{8,}/);
    await checkPage(page, 'users-reset-mfa');
    await page.reload();
    await table.waitFor();
    expect(await page.locator('#enrolment-code-value').count()).toBe(0);
    // A role change, then Disable.
    await page.getByLabel(`Role of ${victimId}`, { exact: true }).selectOption('operator');
    await page.getByRole('button', { name: `Change role of ${victimId}` }).click();
    await expect.poll(() => page.locator('#users-outcome').textContent(), WAIT).toContain('role is now operator');
    await page.getByRole('button', { name: `Disable ${victimId}` }).click();
    await expect.poll(() => page.locator('#users-outcome').textContent(), WAIT).toContain('disabled');
    expect(await page.locator(`tr[data-user-id="${victimId}"] .user-status`).textContent()).toBe('disabled');
    await page.reload();
    await table.waitFor();
    expect(await page.locator(`tr[data-user-id="${victimId}"] .user-status`).textContent()).toBe('disabled');
    expect(await page.getByRole('button', { name: `Disable ${victimId}` }).isDisabled()).toBe(true);
    await checkPage(page, 'users');
    // The search by e-mail finds one.
    await page.getByLabel('E-mail').fill('vic@acme.example');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.waitForURL(/email=/);
    await expect.poll(() => page.locator('tbody tr').count(), WAIT).toBe(1);
    // The disabled user cannot sign in.
    const p = await (await context()).context.newPage();
    await signInUpToPassword(p, w.s.url, 'vic@acme.example');
    await p.waitForLoadState('domcontentloaded');
    await expect.poll(() => p.locator('body').textContent(), WAIT).toContain('is not correct');
    expect(new URL(p.url()).pathname).toMatch(/^\/oauth\/interaction\//);
    await p.close();
  });

  it.runIf(adminHas('webhooks:manage'))('webhooks: the endpoints and their deliveries', async () => {
    const manager = await w.s.newClient(TENANT, ['webhooks:manage']);
    const created = await w.s.http.call('/v1/webhook-endpoints', {
      token: manager.token,
      body: { url: 'https://hooks.example.com/vaultgate', events: ['account.created'] },
    });
    expect([200, 201], JSON.stringify(created.body)).toContain(created.status);
    // A delivery as the worker leaves it after its last attempt failed (written straight into the
    // tables: the worker's retries would take minutes).
    const db = w.s.database.db;
    const eventId = newId('evt');
    const deliveryId = newId('whd');
    const now = Date.now();
    await db.run('INSERT INTO events (id, tenant_id, type, data, created_at, position) VALUES ($1, $2, $3, $4, $5, $6)', [
      eventId,
      manager.tenantId,
      'account.created',
      '{}',
      now,
      1_000_000,
    ]);
    await db.run(
      `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, position, status, attempts, next_attempt_at, last_attempt_at, last_status, created_at)
       VALUES ($1, $2, $3, $4, 'failed', 8, $5, $5, 503, $5)`,
      [deliveryId, created.body.id, eventId, 1_000_000, now],
    );
    const p = page;
    await p.goto(`${w.s.url}/console/webhooks`);
    const endpoints = p.getByRole('region', { name: 'Webhook endpoints' });
    await endpoints.waitFor();
    expect(await endpoints.textContent()).toContain('https://hooks.example.com/vaultgate');
    await p.getByRole('heading', { name: 'Deliveries to https://hooks.example.com/vaultgate' }).waitFor();
    const row = p.locator(`tr[data-delivery-id="${deliveryId}"]`);
    expect(await row.locator('.delivery-status').textContent()).toBe('failed');
    expect(await row.textContent()).toContain('HTTP 503');
    await checkPage(p, 'webhooks');
    await p.getByRole('button', { name: `Retry delivery ${deliveryId}` }).click();
    await expect.poll(() => p.locator('#webhooks-outcome').textContent(), WAIT).toBe(`Delivery ${deliveryId} queued again.`);
    expect(await row.locator('.delivery-status').textContent()).toBe('pending');
    // The API says the same (or the worker has tried it already).
    const list = await w.s.http.call(`/v1/webhook-endpoints/${created.body.id}/deliveries`, { token: manager.token });
    expect(list.body.data.find((d: { id: string }) => d.id === deliveryId).status).not.toBe('failed');
  });

  it('an auditor sees the new action buttons disabled, and a forged change is refused', async () => {
    const p = await (await context()).context.newPage();
    await signIn(p, w.s.url, w.users.auditor);
    await expect.poll(() => p.locator('.who').textContent(), WAIT).toContain('Auditor');
    expect(await p.locator('nav [aria-disabled="true"]').allTextContents()).toEqual([
      'Clients (needs admin:clients)',
      'Usage (needs analytics:read)',
      'Keys (needs admin:keys)',
      'Webhooks (needs webhooks:manage)',
      'Users (needs admin:users)',
    ]);
    await p.goto(`${w.s.url}/console/alerts`);
    const row = p.locator('#alert-rows tr', { hasText: attackers[1]! });
    await row.waitFor();
    const ack = row.getByRole('button', { name: /^Acknowledge / });
    expect(await ack.isDisabled()).toBe(true);
    expect(await ack.getAttribute('title')).toBe('Needs alerts:write');
    const alertId = await row.getAttribute('data-alert-id');
    expect(await p.locator('main .notice').first().textContent()).toContain('needs the alerts:write permission');
    await checkPage(p, 'auditor-alerts');
    for (const name of ['keys', 'users']) {
      await p.goto(`${w.s.url}/console/${name}`);
      await expect.poll(() => p.locator('main .notice').textContent(), WAIT).toMatch(/needs the admin:(keys|users) permission/);
    }
    // Straight at the relay, with the session's CSRF token: the API refuses each (the token has no such scope)…
    const attempt = await p.evaluate(
      async ({ alertId, victimId }) => {
        const s = (await (await fetch('/console/api/session')).json()) as { csrf: string };
        const change = (url: string, headers: Record<string, string>) =>
          fetch(`/console/api${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' }).then(
            async (r) => ({ status: r.status, code: ((await r.json()) as { code: string }).code }),
          );
        const withCsrf = { 'x-csrf-token': s.csrf };
        return {
          ack: await change(`/v1/alerts/${alertId}/acknowledge`, withCsrf),
          rotate: await change('/v1/admin/keys/rotate', withCsrf),
          disable: await change(`/v1/admin/users/${victimId}/disable`, withCsrf),
          scan: await change('/v1/security/scans', withCsrf),
          withoutCsrf: await change(`/v1/alerts/${alertId}/acknowledge`, {}),
        };
      },
      { alertId, victimId },
    );
    expect(attempt.ack).toEqual({ status: 403, code: 'insufficient_scope' });
    expect(attempt.rotate).toEqual({ status: 403, code: 'insufficient_scope' });
    expect(attempt.disable).toEqual({ status: 403, code: 'insufficient_scope' });
    expect(attempt.scan).toEqual({ status: 403, code: 'insufficient_scope' });
    // …and without it the change never reaches the API.
    expect(attempt.withoutCsrf).toEqual({ status: 403, code: 'csrf_failed' });
    // The alert is still open.
    await p.goto(`${w.s.url}/console/alerts`);
    await expect.poll(() => p.locator('#alert-rows tr', { hasText: attackers[1]! }).locator('td').nth(5).textContent(), WAIT).toBe('open');
    await p.close();
  });

  it('the platform’s admin rotates the key-encryption key from the keys page (with a confirm step), and the API shows the new version', async () => {
    platformContext = await context();
    const p = await platformContext.context.newPage();
    await signIn(p, w.s.url, 'root@platform.example', { totpSecret: platformSecret, tenant: 'platform' });
    await p.goto(`${w.s.url}/console/keys`);
    const versions = p.getByRole('region', { name: 'Key-encryption key versions' });
    await versions.waitFor();
    const before = Number((await p.locator('#active-version').textContent())!.replace('v', ''));
    expect(before).toBeGreaterThanOrEqual(1);
    await checkPage(p, 'keys');
    // The first click only asks; Cancel leaves everything as it was.
    await p.getByRole('button', { name: 'Rotate the key-encryption key' }).click();
    const group = p.getByRole('group', { name: 'Confirm: Rotate the key-encryption key' });
    await group.waitFor();
    expect(await p.evaluate(() => document.activeElement?.textContent)).toBe('Confirm rotation');
    await checkPage(p, 'keys-confirm');
    await group.getByRole('button', { name: 'Cancel' }).click();
    expect(await group.isHidden()).toBe(true);
    expect(await p.locator('#active-version').textContent()).toBe(`v${before}`);
    // Now for real, by keyboard.
    await p.getByRole('button', { name: 'Rotate the key-encryption key' }).focus();
    await p.keyboard.press('Enter');
    await group.waitFor();
    await p.keyboard.press('Enter');
    await expect
      .poll(() => p.locator('#keys-outcome').textContent(), { timeout: 30_000 })
      .toMatch(new RegExp(`^Rotated: v${before + 1} is active`));
    await expect.poll(() => p.locator('#active-version').textContent(), WAIT).toBe(`v${before + 1}`);
    expect(await versions.textContent()).toContain('retired');
    // The API, asked by a script of the platform tenant, says the same.
    const keys = await w.s.newClient('platform', ['admin:keys']);
    const status = await w.s.http.call('/v1/admin/keys', { token: keys.token });
    expect(status.status).toBe(200);
    expect(status.body.active_version).toBe(before + 1);
    // The scans page for the platform: the latest report, findings by OWASP category.
    await p.goto(`${w.s.url}/console/scans`);
    const byOwasp = p.getByRole('region', { name: 'Findings by OWASP category' });
    await byOwasp.waitFor();
    expect(await byOwasp.textContent()).toContain('API4:2023');
    expect(await p.locator('#finding-count').textContent()).toBe('1');
    await checkPage(p, 'scans');
    await p.close();
  });

  it('new pages stay readable at 390 px: nothing wider than the screen', async () => {
    const phone = (await context({ width: 390, height: 844 })).context;
    await phone.addCookies(await page.context().cookies(w.s.url));
    const p = await phone.newPage();
    for (const name of ['alerts', 'usage', 'users', 'keys', 'scans']) {
      await p.goto(`${w.s.url}/console/${name}`);
      await p.locator('main h1').waitFor();
      await p.waitForLoadState('networkidle');
      const wide = await p.evaluate(() =>
        [...document.querySelectorAll('main *')]
          .filter((e) => e.getBoundingClientRect().right > 390 && !e.closest('.table-wrap'))
          .slice(0, 5)
          .map((e) => `${e.tagName}.${e.className}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`),
      );
      expect(await p.evaluate(() => document.documentElement.scrollWidth), `/console/${name}: ${wide.join(', ')}`).toBeLessThanOrEqual(390);
      if (SHOTS && name === 'users') await p.screenshot({ path: path.join(SHOTS, 'users-phone.png') });
    }
    await p.close();
  });

  it.runIf(adminHas('scans:run'))(
    'Run now starts a scan in the background (platform admin)',
    async () => {
      // The platform admin's session from the keys test (a new sign-in would reuse its TOTP code).
      const p = await platformContext!.context.newPage();
      await p.goto(`${w.s.url}/console/scans`);
      const run = p.getByRole('button', { name: 'Run a scan now' });
      await run.waitFor();
      const answer = p.waitForResponse((r) => r.url().endsWith('/console/api/v1/security/scans') && r.request().method() === 'POST');
      await run.click();
      expect((await answer).status()).toBe(202);
      await expect.poll(() => p.locator('#scans-outcome').textContent(), WAIT).toMatch(/^The scan has started/);
      // The scan ends before the server closes (its report lands in the store).
      const store = createScanStore(w.s.database.db);
      await expect.poll(async () => (await store.latest())?.trigger, { timeout: 120_000, interval: 1000 }).toBe('manual');
      await p.close();
    },
    150_000,
  );

  it('no page reported a CSP violation, a console error or a request to another origin', () => {
    expect(watched.flatMap((c) => c.problems)).toEqual([]);
  });
});
