// oidc-provider's interactions (the user-facing part of the authorization-code flow): the sign-in,
// TOTP and consent pages, as ordinary gateway routes under /oauth/interaction/:uid (public policy:
// no token; the per-IP limit, request id, security headers and the request log line apply as to
// every route). oidc-provider binds each interaction to a browser cookie (interactionDetails
// refuses a foreign one); on top, every form carries a CSRF token bound to the interaction, a
// cross-origin POST is refused, and the steps after the password travel as a signed, short-lived
// ticket (uid, user, step) so no step can be skipped. A first TOTP enrolment needs the one-time
// enrolment code before any secret is shown (the password alone is not enough).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Provider } from 'oidc-provider';
import { AUDIT_ACTIONS, type AuditAction } from '../../audit/actions.js';
import type { AuditLog } from '../../audit/types.js';
import { INTERACTION_PREFIX } from '../../lib/oauth-paths.js';
import type { Role } from '../../lib/principal.js';
import type { Users } from '../../users/user-service.js';
import { ROLE_SCOPES } from '../../lib/roles.js';
import { consentPage, enrolmentCodePage, enrolPage, loginPage, messagePage, mfaPage, pageCsp, recoveryCodesPage } from './pages.js';
import { decimalOf } from '../../ledger/money.js';
import { grantedDetail, parsePaymentInitiation, type PaymentInitiation } from '../../consents/payment-detail.js';
import type { ConsentGrants } from '../types.js';
import { CONSENT_TTL_MS } from '../../consents/consent-service.js';

const MAX_FORM = 8 * 1024;
const TICKET_TTL_MS = 5 * 60_000;
const UID = /^[A-Za-z0-9_-]{10,64}$/;
const ACTIONS = ['login', 'mfa', 'enrolment-code', 'enrol', 'continue', 'consent', 'abort'] as const;
type Action = (typeof ACTIONS)[number];
const GENERIC_FAILURE = 'The e-mail or password is not correct, or sign-in is paused after repeated failures. Try again later.';
// One answer for a wrong, expired or already used enrolment code, and for a paused account.
const ENROLMENT_CODE_FAILURE =
  'The enrolment code is not valid, or the check is paused after repeated failures. Ask your administrator for a new code.';

type Step = 'mfa' | 'enrolment_code' | 'enrol' | 'done';

export interface InteractionDeps {
  provider: Provider;
  users: Users;
  issuer: string;
  /** Key of the CSRF tokens and tickets (a platform secret). */
  key: Buffer;
  client(clientId: string): Promise<{ tenantId: string; name: string } | undefined>;
  audit?: AuditLog | undefined;
  /** Payment consents (RFC 9396 payment_initiation): checked and recorded on the consent page. */
  consents?: ConsentGrants | undefined;
  onError(err: unknown): void;
}

class FormError extends Error {}

/** One value per field: a repeated field is refused (parameter pollution). */
function field(form: URLSearchParams, name: string): string {
  const values = form.getAll(name);
  if (values.length !== 1) throw new FormError(`field ${name}`);
  return values[0] as string;
}

const isAction = (value: string): value is Action => (ACTIONS as readonly string[]).includes(value);

/** Registers the pages on `app` (in their own scope: only they parse HTML forms). */
export function registerInteractionRoutes(app: FastifyInstance, deps: InteractionDeps): void {
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

  function send(reply: FastifyReply, status: number, html: string, formTargets: string[] = []): FastifyReply {
    // Cache-Control and CSP replace the API defaults (gateway/security-headers.ts).
    return reply
      .code(status)
      .header('Content-Type', 'text/html; charset=utf-8')
      .header('Cache-Control', 'no-store')
      .header('Content-Security-Policy', pageCsp(formTargets))
      .send(html);
  }

  async function page(request: FastifyRequest<{ Params: { uid: string; action?: string } }>, reply: FastifyReply): Promise<FastifyReply> {
    const { uid } = request.params;
    const action = request.params.action;
    if (!UID.test(uid) || (action !== undefined && !isAction(action))) return send(reply, 404, messagePage('Not found', 'No such page.'));

    let details: Awaited<ReturnType<Provider['interactionDetails']>>;
    try {
      details = await provider.interactionDetails(request.raw, reply.raw);
    } catch {
      return send(reply, 400, messagePage('Sign-in expired', 'This sign-in is no longer valid. Start again from the application.'));
    }
    if (details.uid !== uid) return send(reply, 400, messagePage('Sign-in expired', 'This sign-in is no longer valid.'));
    const clientId = typeof details.params.client_id === 'string' ? details.params.client_id : '';
    const client = await deps.client(clientId);
    if (!client) return send(reply, 400, messagePage('Sign-in failed', 'The application is not available.'));
    const redirectUri = typeof details.params.redirect_uri === 'string' ? details.params.redirect_uri : undefined;
    const targets = redirectUri ? [new URL(redirectUri).origin] : [];
    const base = `${INTERACTION_PREFIX}${uid}`;
    const csrf = csrfFor(uid);
    const show = (status: number, html: string) => send(reply, status, html, targets);

    /**
     * Back to the authorization endpoint with the result (303). A consent keeps the sign-in of the
     * same interaction (merged): otherwise prompt=login would ask for the password again after it.
     */
    async function finish(result: Record<string, unknown>, mergeWithLastSubmission = false) {
      const returnTo = await provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission });
      return reply.redirect(returnTo, 303);
    }

    /**
     * The payment this authorization asks consent for (validated at PAR), once the signed-in user
     * may give it: a customer, and the debtor account, when named, its own. Otherwise the
     * authorization ends with the error (RFC 9396 §5).
     */
    async function paymentFor(authz: { role: Role; customerId: string | undefined }): Promise<PaymentInitiation | { error: string }> {
      const rar = (details.prompt.details as { rar?: unknown[] }).rar;
      const payment = parsePaymentInitiation(rar?.[0]);
      if (authz.role !== 'customer' || authz.customerId === undefined || !deps.consents) return { error: 'access_denied' };
      if (!(await deps.consents.debtorIsCustomers(client!.tenantId, authz.customerId, payment)))
        return { error: 'invalid_authorization_details' };
      return payment;
    }
    const asksPayment = (details.prompt.details as { rar?: unknown }).rar !== undefined;
    const paymentRefused = (error: string) =>
      finish({
        error,
        error_description: error === 'access_denied' ? 'Only a customer can consent to a payment' : 'The paying account is not yours',
      });

    async function renderConsent() {
      const accountId = details.session?.accountId;
      const authz = accountId ? await users.authz(accountId) : undefined;
      if (!authz) return show(400, messagePage('Sign-in failed', 'Sign in again.'));
      let payment: PaymentInitiation | undefined;
      if (asksPayment) {
        const checked = await paymentFor(authz);
        if ('error' in checked) return paymentRefused(checked.error);
        payment = checked;
      }
      const { granted, refused } = splitScopes(details, issuer, authz.role, payment !== undefined);
      return show(
        200,
        consentPage({
          action: `${base}/consent`,
          abort: `${base}/abort`,
          csrf,
          clientName: client!.name,
          granted,
          refused,
          ...(payment
            ? {
                payment: {
                  amount: decimalOf(payment.amount, payment.currency),
                  currency: payment.currency,
                  creditorAccountId: payment.creditorAccountId,
                  debtorAccountId: payment.debtorAccountId,
                },
                paymentTtlMinutes: CONSENT_TTL_MS / 60_000,
              }
            : {}),
        }),
      );
    }

    if (action === undefined) {
      if (details.prompt.name === 'login')
        return show(200, loginPage({ action: `${base}/login`, abort: `${base}/abort`, csrf, clientName: client.name }));
      if (details.prompt.name === 'consent') return renderConsent();
      return show(400, messagePage('Sign-in failed', 'Unsupported step.'));
    }

    // CSRF: a browser always sends Origin on a cross-origin POST; ours must match, and the token too.
    const reqOrigin = request.headers.origin;
    if (reqOrigin !== undefined && reqOrigin !== origin && reqOrigin !== 'null')
      return show(403, messagePage('Refused', 'Cross-site request refused.'));
    const form = request.body instanceof URLSearchParams ? request.body : undefined;
    try {
      if (!form || !equal(field(form, 'csrf'), csrf)) throw new FormError('csrf');
    } catch {
      return show(403, messagePage('Refused', 'The form is not valid. Go back and try again.'));
    }
    const ip = request.ip;

    async function audit(auditAction: AuditAction, outcome: 'success' | 'failure' | 'denied', userId?: string, target?: string) {
      await deps.audit
        ?.record({ action: auditAction, outcome, tenantId: client!.tenantId, clientId, userId, ip, target })
        .catch(() => undefined);
    }
    try {
      switch (action) {
        case 'login': {
          if (details.prompt.name !== 'login') return show(400, messagePage('Sign-in failed', 'Unexpected step.'));
          const result = await users.signIn(client.tenantId, field(form, 'email'), field(form, 'password'), ip);
          if (!result.ok) {
            // The account by its blind index (never the e-mail), and its id when it exists: the
            // detector counts failures per account. The page stays the same either way.
            await audit(AUDIT_ACTIONS.signIn, 'failure', result.userId, result.subject);
            return show(
              401,
              loginPage({ action: `${base}/login`, abort: `${base}/abort`, csrf, clientName: client.name, message: GENERIC_FAILURE }),
            );
          }
          if (result.mfa === 'verify')
            return show(200, mfaPage({ action: `${base}/mfa`, csrf, ticket: ticket(uid, result.userId, 'mfa') }));
          if (result.mfa === 'enrol') {
            return show(
              200,
              enrolmentCodePage({ action: `${base}/enrolment-code`, csrf, ticket: ticket(uid, result.userId, 'enrolment_code') }),
            );
          }
          await audit(AUDIT_ACTIONS.signIn, 'success', result.userId);
          return finish({ login: { accountId: result.userId, amr: ['pwd'] } });
        }
        case 'mfa': {
          const userId = openTicket(field(form, 'ticket'), uid, 'mfa');
          if (!userId) return show(400, messagePage('Sign-in expired', 'Start again from the application.'));
          if (!(await users.verifySecondFactor(userId, field(form, 'code'), ip))) {
            await audit(AUDIT_ACTIONS.mfa, 'failure', userId);
            return show(
              401,
              mfaPage({ action: `${base}/mfa`, csrf, ticket: ticket(uid, userId, 'mfa'), message: 'The code is not correct.' }),
            );
          }
          await audit(AUDIT_ACTIONS.signIn, 'success', userId);
          return finish({ login: { accountId: userId, amr: ['pwd', 'otp'] } });
        }
        case 'enrolment-code': {
          const userId = openTicket(field(form, 'ticket'), uid, 'enrolment_code');
          if (!userId) return show(400, messagePage('Sign-in expired', 'Start again from the application.'));
          const started = await users.startEnrolment(userId, field(form, 'enrolment_code'), 'vaultgate', ip);
          if (!started) {
            await audit(AUDIT_ACTIONS.mfa, 'failure', userId);
            return show(
              401,
              enrolmentCodePage({
                action: `${base}/enrolment-code`,
                csrf,
                ticket: ticket(uid, userId, 'enrolment_code'),
                message: ENROLMENT_CODE_FAILURE,
              }),
            );
          }
          return show(200, enrolPage({ action: `${base}/enrol`, csrf, ticket: ticket(uid, userId, 'enrol'), ...started }));
        }
        case 'enrol': {
          const userId = openTicket(field(form, 'ticket'), uid, 'enrol');
          if (!userId) return show(400, messagePage('Sign-in expired', 'Start again from the application.'));
          const codes = await users.confirmEnrolment(userId, field(form, 'code'), ip);
          if (!codes) {
            // The enrolment code is spent: the same pending key again, for the holder of this ticket.
            const pending = await users.pendingEnrolment(userId, 'vaultgate');
            if (!pending) return show(400, messagePage('Sign-in expired', 'Start again from the application.'));
            return show(
              401,
              enrolPage({
                action: `${base}/enrol`,
                csrf,
                ticket: ticket(uid, userId, 'enrol'),
                ...pending,
                message: 'The code is not correct.',
              }),
            );
          }
          return show(200, recoveryCodesPage({ action: `${base}/continue`, csrf, ticket: ticket(uid, userId, 'done'), codes }));
        }
        case 'continue': {
          const userId = openTicket(field(form, 'ticket'), uid, 'done');
          if (!userId) return show(400, messagePage('Sign-in expired', 'Start again from the application.'));
          await audit(AUDIT_ACTIONS.signIn, 'success', userId);
          return finish({ login: { accountId: userId, amr: ['pwd', 'otp'] } });
        }
        case 'consent': {
          const accountId = details.session?.accountId;
          const authz = accountId ? await users.authz(accountId) : undefined;
          if (details.prompt.name !== 'consent' || !accountId || !authz || field(form, 'decision') !== 'allow') {
            return show(400, messagePage('Sign-in failed', 'Unexpected step.'));
          }
          let payment: PaymentInitiation | undefined;
          if (asksPayment) {
            const checked = await paymentFor(authz);
            if ('error' in checked) return paymentRefused(checked.error);
            payment = checked;
          }
          // A payment consent gets a grant of its own, and so does anything after one: revoking
          // the consent ends its grant, and must end nothing else.
          const existing = details.grantId && !payment ? await provider.Grant.find(details.grantId) : undefined;
          if (details.grantId && !payment && !existing)
            return show(400, messagePage('Sign-in failed', 'Start again from the application.'));
          const fresh = existing === undefined || (existing.rar?.length ?? 0) > 0;
          const grant = fresh ? new provider.Grant({ accountId, clientId }) : existing;
          const { granted, refused, oidc } = splitScopes(details, issuer, authz.role, fresh);
          if (oidc.length) grant.addOIDCScope(oidc.join(' '));
          if (granted.length) grant.addResourceScope(issuer, granted.join(' '));
          // Refused scopes are recorded as such, so the consent prompt does not come back for them.
          if (refused.length) grant.rejectResourceScope(issuer, refused.join(' '));
          const consentId = payment && deps.consents ? deps.consents.newId() : undefined;
          if (payment && consentId) grant.addRar(grantedDetail(payment, consentId));
          const grantId = await grant.save();
          if (payment && consentId && deps.consents) {
            await deps.consents.grant({ id: consentId, tenantId: client.tenantId, clientId, userId: accountId, grantId, payment, ip });
          }
          await audit(AUDIT_ACTIONS.consent, 'success', accountId, consentId);
          return finish({ consent: { grantId } }, true);
        }
        case 'abort':
          await audit(AUDIT_ACTIONS.consent, 'denied', details.session?.accountId);
          return finish({ error: 'access_denied', error_description: 'The user cancelled.' });
      }
    } catch (err) {
      if (err instanceof FormError) return show(400, messagePage('Refused', 'The form is not valid.'));
      throw err;
    }
  }

  void app.register(async (scope) => {
    // Only these routes read HTML forms: small, and anything else is no form at all (refused by the
    // CSRF check above with the same page, without reading it).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_FORM }, (_request, body, done) => {
      done(null, new URLSearchParams(body as string));
    });
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    // The pages answer in HTML, errors too: a form too large (413) is a refusal like any other.
    scope.setErrorHandler(async (err: { statusCode?: number }, _request, reply) => {
      const status = err.statusCode;
      if (status !== undefined && status >= 400 && status < 500)
        return send(reply, status, messagePage('Refused', 'The form is not valid.'));
      deps.onError(err);
      return send(reply, 500, messagePage('Error', 'Something went wrong. Start again from the application.'));
    });
    const options = { config: { policy: 'public' as const }, schema: { hide: true } };
    scope.get(`${INTERACTION_PREFIX}:uid`, options, page);
    scope.post(`${INTERACTION_PREFIX}:uid/:action`, { ...options, bodyLimit: MAX_FORM }, page);
  });
}

interface DetailsLike {
  params: Record<string, unknown>;
  prompt: { details: Record<string, unknown> };
}

/**
 * Requested permission scopes split by what the user's role allows; OIDC scopes (openid) apart.
 * For an existing grant, the ones it lacks; for a new grant (`all`), every one requested.
 */
function splitScopes(details: DetailsLike, issuer: string, role: Role, all = false) {
  const d = details.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
  const everyScope = typeof details.params.scope === 'string' ? details.params.scope.split(' ').filter((x) => x !== '') : [];
  const requested = all ? everyScope.filter((x) => x !== 'openid') : (d.missingResourceScopes?.[issuer] ?? []);
  const allowed = new Set<string>(ROLE_SCOPES[role]);
  return {
    // The provider counts every scope it knows among the OIDC ones too (as missingOIDCScope does).
    oidc: all ? everyScope : (d.missingOIDCScope ?? []),
    granted: requested.filter((s) => allowed.has(s)),
    refused: requested.filter((s) => !allowed.has(s)),
  };
}
