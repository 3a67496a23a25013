// The console's sign-in without a browser: the console's login, then the platform's pages
// (password, consent) through a cookie jar, back to the console.
import { expect } from 'vitest';
import type { TestServer } from '../e2e/harness.js';
import { formAction, hiddenField, type Browser } from '../fapi/fapi-client.js';
import { PASSWORD, TENANT } from './console-setup.js';

type Response = Awaited<ReturnType<Browser['request']>>;

/**
 * Follows the sign-in through the platform's pages (password, consent) back to the console.
 * `callback`, when given, takes the authorization response instead of `browser` (another node),
 * with the console's login cookie.
 */
export async function signIn(
  s: TestServer,
  browser: Browser,
  email: string,
  callback?: (pathAndQuery: string, loginCookie: string) => Promise<Response>,
) {
  let res = await browser.request(`/console/login?tenant=${TENANT}`);
  const loginCookie = /(__Host-vg-console-login=[^;]+)/.exec(String(res.headers['set-cookie']))?.[1] ?? '';
  for (let i = 0; i < 15; i++) {
    if (res.status === 302 || res.status === 303) {
      const to = new URL(String(res.headers.location), s.url);
      if (to.pathname === '/console/' || to.pathname === '/console/refused') {
        const cookie = /(__Host-vg-console=[^;]+)/.exec(String(res.headers['set-cookie']))?.[1];
        return { to, cookie };
      }
      res =
        callback && to.pathname === '/console/callback'
          ? await callback(to.pathname + to.search, loginCookie)
          : await browser.request(to.pathname + to.search);
      continue;
    }
    expect(res.status).toBe(200);
    const csrf = hiddenField(res.text, 'csrf');
    const login = formAction(res.text, 'login');
    const consent = formAction(res.text, 'consent');
    if (login) res = await browser.request(login, { form: { csrf, email, password: PASSWORD } });
    else if (consent) res = await browser.request(consent, { form: { csrf, decision: 'allow' } });
    else throw new Error(`unexpected page: ${res.text.slice(0, 200)}`);
  }
  throw new Error('too many steps');
}
