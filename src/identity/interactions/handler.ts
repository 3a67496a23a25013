// oidc-provider's interactions (the user-facing part of the authorization-code flow), served under
// /oauth/interaction/:uid. oidc-provider binds each interaction to a browser cookie
// (interactionDetails refuses a foreign one); on top, every form carries a CSRF token bound to the
// interaction, a cross-origin POST is refused, and the steps after the password travel as a
// signed, short-lived ticket (uid, user, step) so no step can be skipped. A first TOTP enrolment
// needs the one-time enrolment code before any secret is shown (the password alone is not enough).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Provider } from 'oidc-provider';
import { AUDIT_ACTIONS, type AuditAction } from '../../audit/actions.js';
import type { AuditLog } from '../../audit/types.js';
import type { Role } from '../../lib/principal.js';
import type { Users } from '../../users/user-service.js';
import { ROLE_SCOPES } from '../roles.js';
import { consentPage, enrolmentCodePage, enrolPage, loginPage, messagePage, mfaPage, pageCsp, recoveryCodesPage } from './pages.js';

const PREFIX = '/oauth/interaction/';
const MAX_FORM = 8 * 1024;
const TICKET_TTL_MS = 5 * 60_000;
const GENERIC_FAILURE = 'The e-mail or password is not correct, or sign-in is paused after repeated failures. Try again later.';
// One answer for a wrong, expired or already used enrolment code, and for a paused account.
const ENROLMENT_CODE_FAILURE = 'The enrolment code is not valid, or the check is paused after repeated failures. Ask your administrator for a new code.';

type Step = 'mfa' | 'enrolment_code' | 'enrol' | 'done';

export interface InteractionDeps {
  provider: Provider;
  users: Users;
  issuer: string;
  /** Key of the CSRF tokens and tickets (a platform secret). */
  key: Buffer;
  trustProxy: boolean;
  client(clientId: string): Promise<{ tenantId: string; name: string } | undefined>;
  audit?: AuditLog | undefined;
}

class FormError extends Error {}

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    if (!/^application\/x-www-form-urlencoded\b/i.test(String(req.headers['content-type'] ?? ''))) {
      reject(new FormError('form expected'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_FORM) {
        reject(new FormError('form too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

/** One value per field: a repeated field is refused (parameter pollution). */
function field(form: URLSearchParams, name: string): string {
  const values = form.getAll(name);
  if (values.length !== 1) throw new FormError(`field ${name}`);
  return values[0] as string;
}

export function createInteractionHandler(deps: InteractionDeps) {
  const { provider, users, issuer, key } = deps;
  const origin = new URL(issuer).origin;

  const mac = (data: string) => createHmac('sha256', key).update(data).digest('base64url');
  const csrfFor = (uid: string) => mac(`csrf\0${uid}`);
  const equal = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

  function ticket(uid: string, userId: string, step: Step): string {
    const body = `${uid}.${userId}.${step}.${Date.now() + TICKET_TTL_MS}`;
    return `${Buffer.from(body).toString('base64url')}.${mac(`ticket\0${body}`)}`;
  }
  function openTicket(value: string, uid: string, step: Step): string | undefined {
    const [b64, sig] = value.split('.');
    if (!b64 || !sig) return undefined;
    const body = Buffer.from(b64, 'base64url').toString('utf8');
    if (!equal(sig, mac(`ticket\0${body}`))) return undefined;
    const [tUid, userId, tStep, exp] = body.split('.');
    if (tUid !== uid || tStep !== step || !userId || Number(exp) < Date.now()) return undefined;
    return userId;
  }

  // Behind the one trusted proxy, the caller is the entry that proxy appended (the last one);
  // the entries before it are the caller's own words (see the trust-proxy note in app.ts).
  function ipOf(req: IncomingMessage): string {
    if (deps.trustProxy) {
      const xff = String(req.headers['x-forwarded-for'] ?? '').split(',').at(-1)?.trim();
      if (xff) return xff;
    }
    return req.socket.remoteAddress ?? 'unknown';
  }

  function send(res: ServerResponse, status: number, html: string, formTargets: string[] = []): void {
    res.statusCode = status;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Security-Policy', pageCsp(formTargets));
    res.end(html);
  }

  async function finish(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>): Promise<void> {
    // Writes the 303 back to the authorization endpoint (resume).
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'https://localhost').pathname;
    const [uid, action, ...rest] = pathname.slice(PREFIX.length).split('/');
    if (!uid || !/^[A-Za-z0-9_-]{10,64}$/.test(uid) || rest.length > 0) return send(res, 404, messagePage('Not found', 'No such page.'));

    let details: Awaited<ReturnType<Provider['interactionDetails']>>;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      return send(res, 400, messagePage('Sign-in expired', 'This sign-in is no longer valid. Start again from the application.'));
    }
    if (details.uid !== uid) return send(res, 400, messagePage('Sign-in expired', 'This sign-in is no longer valid.'));
    const clientId = typeof details.params.client_id === 'string' ? details.params.client_id : '';
    const client = await deps.client(clientId);
    if (!client) return send(res, 400, messagePage('Sign-in failed', 'The application is not available.'));
    const redirectUri = typeof details.params.redirect_uri === 'string' ? details.params.redirect_uri : undefined;
    const targets = redirectUri ? [new URL(redirectUri).origin] : [];
    const base = `${PREFIX}${uid}`;
    const csrf = csrfFor(uid);
    const page = (status: number, html: string) => send(res, status, html, targets);

    if (req.method === 'GET' && action === undefined) {
      if (details.prompt.name === 'login') return page(200, loginPage({ action: `${base}/login`, abort: `${base}/abort`, csrf, clientName: client.name }));
      if (details.prompt.name === 'consent') return renderConsent();
      return page(400, messagePage('Sign-in failed', 'Unsupported step.'));
    }
    if (req.method !== 'POST' || action === undefined) return page(405, messagePage('Not allowed', 'Use the form.'));

    // CSRF: a browser always sends Origin on a cross-origin POST; ours must match, and the token too.
    const reqOrigin = req.headers.origin;
    if (reqOrigin !== undefined && reqOrigin !== origin && reqOrigin !== 'null') return page(403, messagePage('Refused', 'Cross-site request refused.'));
    let form: URLSearchParams;
    try {
      form = await readForm(req);
      if (!equal(field(form, 'csrf'), csrf)) throw new FormError('csrf');
    } catch {
      return page(403, messagePage('Refused', 'The form is not valid. Go back and try again.'));
    }
    const ip = ipOf(req);

    async function audit(action: AuditAction, outcome: 'success' | 'failure' | 'denied', userId?: string, target?: string) {
      await deps.audit?.record({ action, outcome, tenantId: client!.tenantId, clientId, userId, ip, target }).catch(() => undefined);
    }

    async function renderConsent() {
      const accountId = details.session?.accountId;
      const authz = accountId ? await users.authz(accountId) : undefined;
      if (!authz) return page(400, messagePage('Sign-in failed', 'Sign in again.'));
      const { granted, refused } = splitScopes(details, issuer, authz.role);
      return page(200, consentPage({ action: `${base}/consent`, abort: `${base}/abort`, csrf, clientName: client!.name, granted, refused }));
    }

    try {
      switch (action) {
        case 'login': {
          if (details.prompt.name !== 'login') return page(400, messagePage('Sign-in failed', 'Unexpected step.'));
          const result = await users.signIn(client.tenantId, field(form, 'email'), field(form, 'password'), ip);
          if (!result.ok) {
            // The account by its blind index (never the e-mail), and its id when it exists: the
            // detector counts failures per account. The page stays the same either way.
            await audit(AUDIT_ACTIONS.signIn, 'failure', result.userId, result.subject);
            return page(401, loginPage({ action: `${base}/login`, abort: `${base}/abort`, csrf, clientName: client.name, message: GENERIC_FAILURE }));
          }
          if (result.mfa === 'verify') return page(200, mfaPage({ action: `${base}/mfa`, csrf, ticket: ticket(uid, result.userId, 'mfa') }));
          if (result.mfa === 'enrol') {
            return page(200, enrolmentCodePage({ action: `${base}/enrolment-code`, csrf, ticket: ticket(uid, result.userId, 'enrolment_code') }));
          }
          await audit(AUDIT_ACTIONS.signIn, 'success', result.userId);
          return finish(req, res, { login: { accountId: result.userId, amr: ['pwd'] } });
        }
        case 'mfa': {
          const userId = openTicket(field(form, 'ticket'), uid, 'mfa');
          if (!userId) return page(400, messagePage('Sign-in expired', 'Start again from the application.'));
          if (!(await users.verifySecondFactor(userId, field(form, 'code'), ip))) {
            await audit(AUDIT_ACTIONS.mfa, 'failure', userId);
            return page(401, mfaPage({ action: `${base}/mfa`, csrf, ticket: ticket(uid, userId, 'mfa'), message: 'The code is not correct.' }));
          }
          await audit(AUDIT_ACTIONS.signIn, 'success', userId);
          return finish(req, res, { login: { accountId: userId, amr: ['pwd', 'otp'] } });
        }
        case 'enrolment-code': {
          const userId = openTicket(field(form, 'ticket'), uid, 'enrolment_code');
          if (!userId) return page(400, messagePage('Sign-in expired', 'Start again from the application.'));
          const started = await users.startEnrolment(userId, field(form, 'enrolment_code'), 'vaultgate', ip);
          if (!started) {
            await audit(AUDIT_ACTIONS.mfa, 'failure', userId);
            return page(401, enrolmentCodePage({ action: `${base}/enrolment-code`, csrf, ticket: ticket(uid, userId, 'enrolment_code'), message: ENROLMENT_CODE_FAILURE }));
          }
          return page(200, enrolPage({ action: `${base}/enrol`, csrf, ticket: ticket(uid, userId, 'enrol'), ...started }));
        }
        case 'enrol': {
          const userId = openTicket(field(form, 'ticket'), uid, 'enrol');
          if (!userId) return page(400, messagePage('Sign-in expired', 'Start again from the application.'));
          const codes = await users.confirmEnrolment(userId, field(form, 'code'), ip);
          if (!codes) {
            // The enrolment code is spent: the same pending key again, for the holder of this ticket.
            const pending = await users.pendingEnrolment(userId, 'vaultgate');
            if (!pending) return page(400, messagePage('Sign-in expired', 'Start again from the application.'));
            return page(401, enrolPage({ action: `${base}/enrol`, csrf, ticket: ticket(uid, userId, 'enrol'), ...pending, message: 'The code is not correct.' }));
          }
          return page(200, recoveryCodesPage({ action: `${base}/continue`, csrf, ticket: ticket(uid, userId, 'done'), codes }));
        }
        case 'continue': {
          const userId = openTicket(field(form, 'ticket'), uid, 'done');
          if (!userId) return page(400, messagePage('Sign-in expired', 'Start again from the application.'));
          await audit(AUDIT_ACTIONS.signIn, 'success', userId);
          return finish(req, res, { login: { accountId: userId, amr: ['pwd', 'otp'] } });
        }
        case 'consent': {
          const accountId = details.session?.accountId;
          const authz = accountId ? await users.authz(accountId) : undefined;
          if (details.prompt.name !== 'consent' || !accountId || !authz || field(form, 'decision') !== 'allow') {
            return page(400, messagePage('Sign-in failed', 'Unexpected step.'));
          }
          const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId });
          if (!grant) return page(400, messagePage('Sign-in failed', 'Start again from the application.'));
          const { granted, refused, oidc } = splitScopes(details, issuer, authz.role);
          if (oidc.length) grant.addOIDCScope(oidc.join(' '));
          if (granted.length) grant.addResourceScope(issuer, granted.join(' '));
          // Refused scopes are recorded as such, so the consent prompt does not come back for them.
          if (refused.length) grant.rejectResourceScope(issuer, refused.join(' '));
          const grantId = await grant.save();
          await audit(AUDIT_ACTIONS.consent, 'success', accountId);
          return finish(req, res, { consent: { grantId } });
        }
        case 'abort':
          await audit(AUDIT_ACTIONS.consent, 'denied', details.session?.accountId);
          return finish(req, res, { error: 'access_denied', error_description: 'The user cancelled.' });
        default:
          return page(404, messagePage('Not found', 'No such page.'));
      }
    } catch (err) {
      if (err instanceof FormError) return page(400, messagePage('Refused', 'The form is not valid.'));
      throw err;
    }
  }

  return {
    matches: (pathname: string) => pathname.startsWith(PREFIX),
    handle(req: IncomingMessage, res: ServerResponse, onError: (err: unknown) => void): void {
      handle(req, res).catch((err) => {
        onError(err);
        if (!res.headersSent) send(res, 500, messagePage('Error', 'Something went wrong. Start again from the application.'));
        else res.end();
      });
    },
  };
}

interface DetailsLike {
  params: Record<string, unknown>;
  prompt: { details: Record<string, unknown> };
}

/** Requested permission scopes split by what the user's role allows; OIDC scopes (openid) apart. */
function splitScopes(details: DetailsLike, issuer: string, role: Role) {
  const d = details.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
  const requested = d.missingResourceScopes?.[issuer] ?? [];
  const allowed = new Set<string>(ROLE_SCOPES[role]);
  return {
    oidc: d.missingOIDCScope ?? [],
    granted: requested.filter((s) => allowed.has(s)),
    refused: requested.filter((s) => !allowed.has(s)),
  };
}
