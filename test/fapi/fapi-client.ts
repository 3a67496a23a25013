// A FAPI 2.0 client for tests, over plain HTTP requests: private_key_jwt, PAR, PKCE S256, DPoP
// proofs, and a browser stand-in (cookie jar, form posts with the CSRF token parsed from the page).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { totpNow } from '../../src/users/totp.js';
import type { TestServer } from '../e2e/harness.js';

export const REDIRECT_URI = 'https://client.example/cb';

export interface FapiClient {
  clientId: string;
  key: CryptoKey;
}

export async function registerFapiClient(s: TestServer, tenant: string, scopes: string[]): Promise<FapiClient> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const created = await s.server.services.identity.clients.create({
    tenant,
    name: `fapi-${tenant}`,
    scopes,
    grant: 'authorization_code',
    redirectUris: [REDIRECT_URI],
    authMethod: 'private_key_jwt',
    jwks: { keys: [jwk] },
  });
  return { clientId: created.client_id, key: privateKey };
}

/** RFC 7523 client assertion; FAPI 2.0 wants `aud` = the issuer. */
export function clientAssertion(c: FapiClient, issuer: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(c.clientId)
    .setSubject(c.clientId)
    .setAudience(issuer)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(c.key);
}

export const clientAuthParams = async (c: FapiClient, issuer: string) => ({
  client_id: c.clientId,
  client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
  client_assertion: await clientAssertion(c, issuer),
});

export interface DpopKey {
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function newDpopKey(): Promise<DpopKey> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, jwk: await exportJWK(publicKey) };
}

export function dpopProof(
  k: DpopKey,
  method: string,
  url: string,
  accessToken?: string,
  iat = Math.floor(Date.now() / 1000),
): Promise<string> {
  return new SignJWT({
    htm: method,
    htu: url,
    jti: randomUUID(),
    ...(accessToken ? { ath: createHash('sha256').update(accessToken).digest('base64url') } : {}),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: k.jwk })
    .setIssuedAt(iat)
    .sign(k.privateKey);
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

export async function par(s: TestServer, c: FapiClient, params: Record<string, string>) {
  return s.http.call('/oauth/par', { method: 'POST', headers: FORM, body: form({ ...(await clientAuthParams(c, s.url)), ...params }) });
}

/** A browser: cookies by name (paths ignored: sending more cookies than needed is harmless here). */
export class Browser {
  private readonly jar = new Map<string, string>();
  constructor(private readonly s: TestServer) {}
  private store(setCookie: string | string[] | undefined) {
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }
  async request(path: string, options: { method?: string; form?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { cookie: [...this.jar].map(([k, v]) => `${k}=${v}`).join('; '), accept: 'text/html' };
    if (options.form) Object.assign(headers, FORM, { origin: this.s.url });
    const res = await this.s.http.call(path, {
      method: options.method ?? (options.form ? 'POST' : 'GET'),
      headers,
      ...(options.form ? { body: form(options.form) } : {}),
    });
    this.store(res.headers['set-cookie']);
    return res;
  }
}

export function hiddenField(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no ${name} field in page`);
  return m[1]!.replace(/&#(\d+);/g, (_x, d: string) => String.fromCharCode(Number(d)));
}

export function formAction(html: string, suffix: string): string | undefined {
  const m = new RegExp(`action="(/oauth/interaction/[^"]+/${suffix})"`).exec(html);
  return m?.[1];
}

export interface SignInUser {
  email: string;
  password: string;
  /** A recovery code to use instead of TOTP on the verification page. */
  recoveryCode?: string;
  /** The one-time enrolment code (`users create` prints it) for a first TOTP enrolment. */
  enrolmentCode?: string;
  /** Stop at the TOTP key page (after the enrolment code was accepted) without confirming. */
  stopAtEnrolment?: boolean;
}

export interface AuthorizeResult {
  code?: string;
  location: string;
  recoveryCodes?: string[];
  pages: string[];
}

/**
 * Drives authorize → sign-in (→ enrolment code → TOTP enrolment, or verification) → consent →
 * redirect with the code. A refused step ends the run with `location` = '<step>-refused'.
 */
export async function authorize(
  s: TestServer,
  browser: Browser,
  clientId: string,
  requestUri: string,
  user: SignInUser,
): Promise<AuthorizeResult> {
  let res = await browser.request(`/oauth/authorize?${form({ client_id: clientId, request_uri: requestUri })}`);
  const pages: string[] = [];
  let recoveryCodes: string[] | undefined;
  for (let i = 0; i < 20; i++) {
    if (res.status === 303 || res.status === 302) {
      const location = String(res.headers.location);
      if (location.startsWith(REDIRECT_URI)) {
        const code = new URL(location).searchParams.get('code') ?? undefined;
        return { ...(code ? { code } : {}), location, ...(recoveryCodes ? { recoveryCodes } : {}), pages };
      }
      res = await browser.request(new URL(location, s.url).pathname + new URL(location, s.url).search);
      continue;
    }
    if (res.status !== 200 && res.status !== 401) throw new Error(`unexpected ${res.status}: ${res.text.slice(0, 300)}`);
    const html = res.text;
    pages.push(html);
    const csrf = hiddenField(html, 'csrf');
    let action: string | undefined;
    if ((action = formAction(html, 'login'))) {
      if (res.status === 401) return { location: 'login-refused', pages };
      res = await browser.request(action, { form: { csrf, email: user.email, password: user.password } });
    } else if ((action = formAction(html, 'enrolment-code'))) {
      if (user.enrolmentCode === undefined || res.status === 401) return { location: 'enrolment-refused', pages };
      res = await browser.request(action, { form: { csrf, ticket: hiddenField(html, 'ticket'), enrolment_code: user.enrolmentCode } });
    } else if ((action = formAction(html, 'enrol'))) {
      if (user.stopAtEnrolment) return { location: 'enrolment-started', pages };
      const secret = /id="totp-secret">([A-Z2-7]+)</.exec(html)![1]!;
      res = await browser.request(action, { form: { csrf, ticket: hiddenField(html, 'ticket'), code: totpNow(secret) } });
    } else if ((action = formAction(html, 'continue'))) {
      recoveryCodes = [...html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]!);
      res = await browser.request(action, { form: { csrf, ticket: hiddenField(html, 'ticket') } });
    } else if ((action = formAction(html, 'mfa'))) {
      if (!user.recoveryCode || res.status === 401) return { location: 'mfa-refused', pages };
      res = await browser.request(action, { form: { csrf, ticket: hiddenField(html, 'ticket'), code: user.recoveryCode } });
    } else if ((action = formAction(html, 'consent'))) {
      res = await browser.request(action, { form: { csrf, decision: 'allow' } });
    } else {
      throw new Error(`unknown page: ${html.slice(0, 300)}`);
    }
  }
  throw new Error('too many steps');
}

export async function exchangeCode(
  s: TestServer,
  c: FapiClient,
  code: string,
  verifier: string,
  dpop: DpopKey | undefined,
  extra: Record<string, string> = {},
) {
  const headers: Record<string, string> = { ...FORM };
  if (dpop) headers.dpop = await dpopProof(dpop, 'POST', `${s.url}/oauth/token`);
  return s.http.call('/oauth/token', {
    method: 'POST',
    headers,
    body: form({
      ...(await clientAuthParams(c, s.url)),
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      ...extra,
    }),
  });
}
