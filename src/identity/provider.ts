// The authorization server: oidc-provider 9, configured (never re-implemented). Its routes live
// under /oauth/…, discovery at /.well-known/openid-configuration; access tokens are RFC 9068 JWTs
// for one resource server, the API (audience = issuer), signed ES256, 10 minutes at most.
import Provider, { errors, interactionPolicy } from 'oidc-provider';
import { INTERACTION_PREFIX, OIDC_ROUTES } from '../lib/oauth-paths.js';
import type { JWK } from 'jose';
import type { ClientSecrets } from './client-secret.js';
import { SIGNING_ALGS } from './keys.js';
import { certificateAuthorized, certificateSubjectMatches, getCertificate } from './mtls.js';
import type { OidcAdapter } from './oidc-adapter.js';
import type { ConsentGrants, IdentityLogger, OidcAccount } from './types.js';
import { PAYMENT_INITIATION, PaymentDetailError, parsePaymentInitiation } from '../consents/payment-detail.js';

/**
 * Why the authorization server refused, for the operator's log (the client gets only the standard
 * error): oidc-provider's `error_detail` ("authorization code already consumed", "missing DPoP proof
 * JWT", "code_verifier does not match code_challenge") or description. These are the library's
 * own fixed texts; anything token-shaped is cut out all the same, and the length is bounded.
 */
export function refusalReason(err: { error_description?: string; error_detail?: unknown } | undefined): string | undefined {
  const text = typeof err?.error_detail === 'string' ? err.error_detail : err?.error_description;
  if (typeof text !== 'string' || text === '') return undefined;
  return text.replace(/[A-Za-z0-9_-]{20,}(\.[A-Za-z0-9_-]*){0,2}/g, '[redacted]').slice(0, 160);
}

export const ACCESS_TOKEN_TTL_S = 600;

const ASYMMETRIC_ENCRYPTION = ['ECDH-ES', 'RSA-OAEP-256'];

interface TokenLike {
  clientId?: string;
  kind?: string;
  grantId?: string;
}
interface CtxLike {
  oidc?: { client?: { clientId: string; [key: string]: unknown } };
}

/** The slice of oidc-provider's context the authorization details callbacks read. */
interface RarContext {
  oidc: { params: Record<string, unknown>; grant?: { rar?: unknown[] } };
}

/**
 * RFC 9396 with one type, payment_initiation (docs/contract.md §10): validated at PAR (shape, amount
 * in the currency's exponent, accounts of the client's tenant); granted on the consent page, which
 * records the consent and adds it to a grant of its own (interactions/routes.ts); copied from the
 * grant to the code, from the code (or refresh token) to the access token and its introspection.
 * A token request cannot add or change authorization details.
 */
function richAuthorizationRequests(consents: Pick<ConsentGrants, 'checkRequest'> | undefined) {
  const refuse = (why: string) => new errors.InvalidAuthorizationDetails(why);
  return {
    enabled: true,
    types: {
      [PAYMENT_INITIATION]: {
        async validate(ctx: RarContext, detail: unknown, client: { fapi?: unknown; tenantId?: unknown; tenant_id?: unknown }) {
          if (!consents) throw refuse('payment consents are not available');
          if (client.fapi !== true) throw refuse('payment_initiation is for FAPI clients only');
          const { params } = ctx.oidc;
          const all = JSON.parse(String(params.authorization_details)) as unknown;
          if (!Array.isArray(all) || all.length !== 1) throw refuse('one payment_initiation per request');
          const scope = typeof params.scope === 'string' ? params.scope : '';
          if (!scope.split(' ').includes('transfers:write')) throw refuse('payment_initiation needs the scope transfers:write');
          const tenantId = client.tenantId ?? client.tenant_id;
          if (typeof tenantId !== 'string') throw new Error('client tenant unavailable');
          try {
            await consents.checkRequest(tenantId, parsePaymentInitiation(detail));
          } catch (err) {
            if (err instanceof PaymentDetailError) throw refuse(err.message);
            throw err;
          }
        },
      },
    },
    authorizationDetailsForGrantSource(ctx: RarContext) {
      // Only a request that asked for a payment gets the grant's consent into its code.
      return ctx.oidc.params.authorization_details === undefined ? undefined : ctx.oidc.grant?.rar;
    },
    authorizationDetailsForAccessToken(ctx: RarContext, _token: unknown, source: { rar?: unknown[] } | undefined) {
      if (ctx.oidc.params.authorization_details !== undefined)
        throw refuse('authorization details are granted at the authorization request only');
      return source?.rar;
    },
    authorizationDetailsForIntrospection(_ctx: unknown, token: { rar?: unknown[] }) {
      return token.rar;
    },
  };
}

function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The default prompts, and one more login check: an existing sign-in session counts only while
 * its account still accepts it: active, with a second factor on the session when the role needs
 * one, and not changed (role, second factor, disabled) since the session began. Otherwise the
 * user signs in again, through every step its role needs now.
 */
function signInPolicy(sessionStillValid: Parameters<typeof buildProvider>[0]['sessionStillValid']) {
  const policy = interactionPolicy.base();
  // A grant given with a payment consent is that payment's alone: a later request without one
  // asks for consent again, and gets a grant of its own (interactions/routes.ts).
  policy.get('consent')!.checks.add(
    new interactionPolicy.Check('payment_grant', 'The grant in the session carries a payment consent', (ctx: unknown) => {
      const { oidc } = ctx as RarContext;
      return oidc.params.authorization_details === undefined && (oidc.grant?.rar?.length ?? 0) > 0
        ? interactionPolicy.Check.REQUEST_PROMPT
        : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
  );
  if (!sessionStillValid) return policy;
  policy.get('login')!.checks.add(
    new interactionPolicy.Check('account_changed', 'The account requires a new sign-in', async (ctx: unknown) => {
      const session = (ctx as { oidc: { session: { accountId?: string; loginTs?: number; amr?: string[] } } }).oidc.session;
      if (!session.accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT; // no_session prompts already
      const ok = await sessionStillValid(session.accountId, { loginTs: session.loginTs, amr: session.amr });
      return ok ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}

export function buildProvider(deps: {
  issuer: string;
  adapter: (model: string) => OidcAdapter;
  privateJwks: { keys: JWK[] };
  cookieKeys: string[];
  clientSecrets: ClientSecrets;
  logger: IdentityLogger;
  trustProxy: boolean;
  /** Every permission scope a client may be registered for (the platform's and the gateway routes'). */
  scopes: readonly string[];
  findAccount?: (sub: string) => Promise<OidcAccount | undefined>;
  /** Payment consents: the checks of a payment_initiation at PAR. */
  consents?: Pick<ConsentGrants, 'checkRequest'> | undefined;
  /** Whether a sign-in session may still yield tokens for its account (role, second factor, changes since). */
  sessionStillValid?: (accountId: string, login: { loginTs: number | undefined; amr: string[] | undefined }) => Promise<boolean>;
}): Provider {
  const { issuer, logger } = deps;
  const permissionScopes = deps.scopes.join(' ');
  const sigAlgs = [...SIGNING_ALGS];

  const configuration: Record<string, unknown> = {
    adapter: deps.adapter,
    jwks: deps.privateJwks,
    cookies: { keys: deps.cookieKeys },
    // The permission scopes must be known to the provider: only then does it refuse a requested
    // scope the client is not registered for (invalid_scope) instead of silently dropping it.
    scopes: ['openid', ...deps.scopes],
    claims: { openid: ['sub'] },
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic', 'private_key_jwt', 'tls_client_auth'],
    clientDefaults: {
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    },
    // tenant_id travels with the client metadata (read from the clients table on every lookup).
    // fapi: the client is held to the FAPI 2.0 Security Profile; default_scope: what a token
    // request without `scope` gets (the client's smallest useful set, see clients.ts).
    extraClientMetadata: {
      properties: ['tenant_id', 'fapi', 'default_scope'],
      validator(_ctx: unknown, key: string, value: unknown) {
        if (key === 'tenant_id' && (typeof value !== 'string' || value === '')) {
          throw new errors.InvalidClientMetadata('tenant_id must be a non-empty string');
        }
        if (key === 'fapi' && value !== undefined && typeof value !== 'boolean')
          throw new errors.InvalidClientMetadata('fapi must be a boolean');
        if (key === 'default_scope' && value !== undefined && typeof value !== 'string')
          throw new errors.InvalidClientMetadata('default_scope must be a string');
      },
    },
    async extraTokenClaims(ctx: CtxLike, token: TokenLike) {
      const client = ctx.oidc?.client;
      const tenantId = client?.tenantId ?? client?.tenant_id;
      // A token without its tenant would be useless at best; refuse to issue it.
      if (!client || client.clientId !== token.clientId || typeof tenantId !== 'string') {
        throw new Error('client tenant unavailable while issuing a token');
      }
      // An end user's token names its grant, so the resource side can refuse it once the grant is
      // revoked (revoking the refresh token ends the grant and every access token minted from it).
      return typeof token.grantId === 'string' ? { tenant_id: tenantId, grant_id: token.grantId } : { tenant_id: tenantId };
    },
    routes: OIDC_ROUTES,
    // Every authorization-code flow: PKCE with S256 (oidc-provider accepts no other method).
    pkce: { required: () => true },
    // Refresh tokens only for clients registered with the refresh_token grant (FAPI clients); they
    // are bound to the client's strong authentication (private_key_jwt / mTLS) at every use.
    async issueRefreshToken(_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) {
      return client.grantTypeAllowed('refresh_token');
    },
    features: {
      // FAPI 2.0 Security Profile, per client: only clients registered as FAPI get it.
      fapi: {
        enabled: true,
        profile(_ctx: unknown, client?: { fapi?: unknown }) {
          return client?.fapi === true ? '2.0' : undefined;
        },
      },
      // PAR for every authorization request (FAPI 2.0 §5.3.1.2): no front-channel parameters.
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true, allowUnregisteredRedirectUris: false },
      richAuthorizationRequests: richAuthorizationRequests(deps.consents),
      // DPoP (RFC 9449); proof jti replay at the token endpoint goes through the adapter (shared).
      dPoP: { enabled: true, allowReplay: false },
      // Off: our access tokens are for the API (audience = the API, RFC 8707), and oidc-provider's
      // userinfo refuses any token with a resource-server audience, so advertising it would
      // promise an endpoint that refuses every token we issue. The ID token carries the claims.
      userinfo: { enabled: false },
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // A client may introspect only its own tokens (tenants never see each other's).
        async allowedPolicy(_ctx: unknown, client: { clientId: string }, token: TokenLike) {
          return token.clientId === client.clientId;
        },
      },
      revocation: {
        enabled: true,
        async allowedPolicy(_ctx: unknown, client: { clientId: string }, token: TokenLike) {
          if (token.clientId !== client.clientId) throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
          return true;
        },
      },
      resourceIndicators: {
        enabled: true,
        // RFC 8707: `resource` is optional and defaults to the API.
        async defaultResource() {
          return issuer;
        },
        async useGrantedResource() {
          return true;
        },
        async getResourceServerInfo(_ctx: unknown, resourceIndicator: string) {
          if (resourceIndicator !== issuer) throw new errors.InvalidTarget();
          return {
            scope: permissionScopes,
            audience: issuer,
            accessTokenTTL: ACCESS_TOKEN_TTL_S,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
      mTLS: {
        enabled: true,
        tlsClientAuth: true,
        certificateBoundAccessTokens: true,
        selfSignedTlsClientAuth: false,
        getCertificate,
        certificateAuthorized,
        certificateSubjectMatches,
      },
      rpInitiatedLogout: { enabled: false },
      registration: { enabled: false },
      encryption: { enabled: false },
    },
    // No HS* anywhere (a stored client-secret hash must never become a key) and no "none".
    enabledJWA: {
      clientAuthSigningAlgValues: sigAlgs,
      idTokenSigningAlgValues: sigAlgs,
      requestObjectSigningAlgValues: sigAlgs,
      userinfoSigningAlgValues: sigAlgs,
      introspectionSigningAlgValues: sigAlgs,
      authorizationSigningAlgValues: sigAlgs,
      dPoPSigningAlgValues: sigAlgs,
      attestSigningAlgValues: ['ES256', 'EdDSA'],
      idTokenEncryptionAlgValues: ASYMMETRIC_ENCRYPTION,
      requestObjectEncryptionAlgValues: ASYMMETRIC_ENCRYPTION,
      userinfoEncryptionAlgValues: ASYMMETRIC_ENCRYPTION,
      introspectionEncryptionAlgValues: ASYMMETRIC_ENCRYPTION,
      authorizationEncryptionAlgValues: ASYMMETRIC_ENCRYPTION,
    },
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL_S,
      ClientCredentials: ACCESS_TOKEN_TTL_S,
      AuthorizationCode: 60,
      IdToken: ACCESS_TOKEN_TTL_S,
      Interaction: 600,
      Session: 8 * 3600,
      Grant: 24 * 3600,
      RefreshToken: 24 * 3600,
    },
    interactions: {
      policy: signInPolicy(deps.sessionStillValid),
      // The sign-in pages are gateway routes (interactions/routes.ts) under /oauth/interaction/.
      url: (_ctx: unknown, interaction: { uid: string }) => `${INTERACTION_PREFIX}${interaction.uid}`,
    },
    async findAccount(_ctx: unknown, sub: string) {
      return deps.findAccount ? deps.findAccount(sub) : undefined;
    },
    // Service clients call from servers; no browser origin is allowed to read our responses.
    clientBasedCORS: () => false,
    // HTML error page (browser flows): the OAuth error fields only, escaped, no external assets.
    async renderError(ctx: { type: string; body: string; set(name: string, value: string): void }, out: Record<string, unknown>) {
      ctx.type = 'html';
      ctx.set('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
      ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Error</title></head><body><h1>Sign-in failed</h1>${Object.entries(
        out,
      )
        .map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: ${escapeHtml(v)}</p>`)
        .join('')}</body></html>`;
    },
  };

  const provider = new Provider(issuer, configuration);
  // Behind the one TLS-terminating proxy: its X-Forwarded-* headers count, and of
  // X-Forwarded-For only the entry that proxy appended (the ones before it are the caller's).
  provider.proxy = deps.trustProxy;
  provider.maxIpsCount = 1;

  // Client secrets are stored as HMACs: compare the presented secret's HMAC in constant time.
  const { clientSecrets } = deps;
  provider.Client.prototype.compareClientSecret = function compareClientSecret(this: { clientSecret?: string }, actual: string) {
    return clientSecrets.matches(actual, this.clientSecret);
  };

  // Absolute URLs (discovery, DPoP `htu`, private_key_jwt audiences) come from the configured issuer,
  // never from the request's Host / X-Forwarded-Host headers (host header injection).
  provider.OIDCContext.prototype.urlFor = function urlFor(name: string, opt?: Record<string, unknown>) {
    return provider.urlFor(name, opt);
  };

  // Least privilege: a client_credentials request without `scope` gets the client's default set
  // (never everything). The model's save is the one place every such token passes.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- wrapped below and called with the model as `this`
  const ccSave = provider.ClientCredentials.prototype.save;
  provider.ClientCredentials.prototype.save = async function save(this: { scope?: string; client?: Record<string, unknown> }) {
    if (!this.scope) {
      const fallback = this.client?.defaultScope ?? this.client?.default_scope;
      if (typeof fallback !== 'string' || fallback === '') throw new errors.InvalidScope('this client must name the scopes it needs', '');
      this.scope = fallback;
    }
    return ccSave.call(this);
  };

  // Events: error names and OAuth error codes only, never tokens, secrets or library messages.
  provider.on('server_error', (_ctx: unknown, err: unknown) => {
    logger.error({ event: 'oidc.server_error', error: (err as Error | undefined)?.name ?? 'Error' }, 'authorization server error');
  });
  // Koa's own error event (replaces its console logging).
  provider.on('error', (err: unknown) => {
    logger.error({ event: 'oidc.error', error: (err as Error | undefined)?.name ?? 'Error' }, 'authorization server error');
  });
  for (const event of [
    'grant.error',
    'introspection.error',
    'revocation.error',
    'userinfo.error',
    'pushed_authorization_request.error',
    'authorization.error',
    'jwks.error',
    'discovery.error',
  ]) {
    provider.on(event, (_ctx: unknown, err: unknown) => {
      const e = err as { error?: string; error_description?: string; error_detail?: unknown } | undefined;
      logger.info({ event: `oidc.${event}`, error: e?.error ?? 'unknown', reason: refusalReason(e) }, 'OAuth request refused');
    });
  }

  return provider;
}
