// Real headless Chromium (Debian's /usr/bin/chromium) through playwright-core, for the console's
// browser tests. Without Chromium the suite is skipped with the reason in its title; with CI=true
// a missing browser fails the run instead (as a missing PostgreSQL or Redis does, see
// test/support/global-setup.ts). `.ci/run` installs the package.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { describe, it } from 'vitest';

export const CHROMIUM = process.env.VAULTGATE_CHROMIUM ?? '/usr/bin/chromium';
const isCI = process.env.CI === 'true' || process.env.CI === '1';

/** A browser suite: runs with Chromium, is skipped (with why) without it, and fails on CI without it. */
export function describeBrowser(name: string, fn: () => void): void {
  if (existsSync(CHROMIUM)) {
    describe(name, fn);
    return;
  }
  const reason = `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set VAULTGATE_CHROMIUM)`;
  if (isCI) {
    describe(name, () => {
      it('needs Chromium on CI', () => {
        throw new Error(`${reason}; CI=true, so the run FAILS`);
      });
    });
  } else describe.skip(`${name} — SKIPPED: ${reason}`, fn);
}

export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

export interface Watched {
  context: BrowserContext;
  /** Every CSP violation and console error any page of the context reported. */
  problems: string[];
}

/**
 * A context that reaches only the test server (any other host is aborted and counted as a
 * problem), trusts its self-signed certificate, and reports CSP violations and console errors.
 */
export async function watchedContext(browser: Browser, origin: string, viewport = { width: 1280, height: 800 }): Promise<Watched> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  // Shorter than the test's own timeout, so a failure names the step that waited.
  context.setDefaultTimeout(10_000);
  const problems: string[] = [];
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.origin === origin || url.protocol === 'data:') return route.continue();
    problems.push(`request to another origin: ${url.origin}`);
    return route.abort();
  });
  await context.exposeBinding('__reportViolation', (_source, text: string) => {
    problems.push(text);
  });
  // Runs before any page script: a violation is reported even if the page's own code never starts.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const report = (window as unknown as { __reportViolation(t: string): void }).__reportViolation;
      report(`CSP: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  context.on('page', (page) => watchPage(page, problems));
  return { context, problems };
}

function watchPage(page: Page, problems: string[]): void {
  page.on('console', (msg) => {
    // A refused sign-in or an expected 401/403 shows as a failed resource load: said by the tests, not a problem.
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
}
