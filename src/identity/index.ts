// The identity capability: the authorization server (oidc-provider, FAPI 2.0 for end-user
// clients), OAuth clients, end users and their sign-in pages, and the verification of access
// tokens (sender constraints, revocation, roles) on every API request.
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError } from '../errors.js';
import { createUsers } from '../users/user-service.js';
import { attachAuditEvents } from './audit-events.js';
import { createAssertionSigner } from '../gateway/upstream/assertion.js';
import { createClientRules, registrableScopes } from './client-input.js';
import { createClientSecrets } from './client-secret.js';
import { createClientStore } from './clients.js';
import { createDecoys } from './decoys.js';
import { createExternalVerifier } from './external-idp.js';
import { isOidcPath } from '../lib/oauth-paths.js';
import { registerInteractionRoutes, type InteractionDeps } from './interactions/routes.js';
import { loadSigningKeys } from './keys.js';
import { createAdapterFactory } from './oidc-adapter.js';
import { buildProvider } from './provider.js';
import { createMemoryReplayCache, createRedisReplayCache } from './replay-cache.js';
import { MFA_ROLES } from '../lib/roles.js';
import { structuredTokenMiddleware } from './structured-tokens.js';
import { createTokenVerifier } from './token-verifier.js';
import { createUsageTracker } from './usage.js';
import type { Identity, IdentityDeps } from './types.js';

export type {
  ClientAuthMethod,
  ClientInfo,
  ClientService,
  CreateClientInput,
  CreatedClient,
  GrantType,
  Identity,
  IdentityDeps,
  IdentityLogger,
  OidcAccount,
} from './types.js';
export { ACCESS_TOKEN_TTL_S } from './provider.js';
export { OIDC_ROUTES } from '../lib/oauth-paths.js';
export { ROLE_SCOPES, ROLES, isRole } from '../lib/roles.js';

function checkIssuer(issuer: string): void {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError('VAULTGATE_PUBLIC_URL: is not a valid URL');
  }
  // The issuer is also the API audience and the resource indicator: it must be exactly an origin.
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.pathname !== '/' || issuer.endsWith('/') || url.search || url.hash) {
    throw new ConfigError('VAULTGATE_PUBLIC_URL: must be an origin such as https://api.example.com (no path, no trailing slash)');
  }
}

export async function createIdentity(deps: IdentityDeps): Promise<Identity> {
  const { db, master, secrets, issuer, logger } = deps;
  checkIssuer(issuer);

  const clientSecrets = createClientSecrets(master);
  const clientRules = createClientRules(registrableScopes(deps.gatewayScopes));
  const keys = await loadSigningKeys(secrets);
  const users = createUsers({ db, master, requireMfa: (role) => MFA_ROLES.has(role), audit: deps.audit, guard: deps.bruteForce });

  // The client store needs the provider's metadata validation, and the provider needs the client
  // store's lookup: the lookup is bound late through this closure.
  let findMetadata: (id: string) => Promise<Record<string, unknown> | undefined> = async () => undefined;
  const decoys = createDecoys({
    db,
    secrets: clientSecrets,
    issuer,
    privateJwks: keys.privateJwks,
    audit: deps.audit,
    onAuditFailure: (err) =>
      logger.warn({ event: 'audit.append_failed', error: (err as Error | undefined)?.name ?? 'Error' }, 'audit event could not be written'),
  });
  // An unknown client id at the authorization server may be a decoy's: reported once per request.
  const lookUpClient = async (id: string) => {
    const metadata = await findMetadata(id);
    const caller = decoys.context.getStore();
    if (metadata === undefined && caller !== undefined && caller.reported !== true) {
      caller.reported = await decoys.reportIfDecoy(id, { how: 'token_request', ip: caller.ip, requestId: caller.requestId });
    }
    return metadata;
  };
  const adapter = createAdapterFactory(db, lookUpClient, (err) => {
    logger.warn(
      { event: 'oidc.purge_failed', error: (err as Error | undefined)?.name ?? 'Error' },
      'purging expired OAuth artifacts failed',
    );
  });
  const provider = buildProvider({
    issuer,
    adapter,
    privateJwks: keys.privateJwks,
    cookieKeys: keys.cookieKeys,
    clientSecrets,
    scopes: clientRules.registrable,
    consents: deps.consents,
    logger,
    trustProxy: deps.trustProxy === true,
    sessionStillValid: async (userId, login) => {
      const user = await users.authz(userId);
      if (!user?.active) return false;
      if (MFA_ROLES.has(user.role) && !login.amr?.includes('otp')) return false;
      // loginTs is in whole seconds: a sign-in in the very second of the change counts as after it
      // (otherwise a sign-in right after a change would be asked again until the second ends).
      return user.sessionsValidAfter === undefined || (login.loginTs ?? 0) >= user.sessionsValidAfter;
    },
    findAccount:
      deps.findAccount ??
      (async (sub) => {
        const user = await users.authz(sub);
        return user?.active ? { accountId: sub, claims: () => ({ sub }) } : undefined;
      }),
  });
  const store = createClientStore({
    db,
    secrets: clientSecrets,
    rules: clientRules,
    validateMetadata: (m) => provider.Client.validate(m),
    audit: deps.audit,
  });
  findMetadata = (clientId) => store.findMetadata(clientId);

  const audit = deps.audit;
  // Token issuance and client-authentication failures (src/identity/audit-events.ts, issue 3).
  if (audit)
    attachAuditEvents(provider, audit, deps.authFailures, (err) =>
      logger.warn({ event: 'audit.append_failed', error: (err as Error | undefined)?.name ?? 'Error' }, 'audit event could not be written'),
    );
  provider.use(
    structuredTokenMiddleware({
      db,
      issuer,
      publicJwks: keys.publicJwks,
      audit,
      users: (id) => users.authz(id),
    }),
  );

  const interactions: InteractionDeps = {
    provider,
    users,
    issuer,
    audit,
    consents: deps.consents,
    key: Buffer.from(keys.cookieKeys[0] as string, 'utf8'),
    onError: (err: unknown) =>
      logger.error({ event: 'oidc.interaction_error', error: (err as Error | undefined)?.name ?? 'Error' }, 'sign-in page error'),
    async client(clientId) {
      const m = await store.findMetadata(clientId);
      return m ? { tenantId: String(m.tenant_id), name: typeof m.client_name === 'string' ? m.client_name : clientId } : undefined;
    },
  };

  const replay = deps.redisUrl ? createRedisReplayCache(deps.redisUrl) : createMemoryReplayCache();
  const usage = createUsageTracker(db, (err) => {
    logger.warn({ event: 'usage.flush_failed', error: (err as Error | undefined)?.name ?? 'Error' }, 'recording scope usage failed');
  });
  const external = deps.external ? createExternalVerifier(deps.external, db) : undefined;

  const callback = provider.callback();
  const verifier = createTokenVerifier({
    db,
    issuer,
    publicJwks: keys.publicJwks,
    replay,
    users: (id) => users.authz(id),
    ...(external ? { external } : {}),
    ...(deps.standingReads ? { standingReads: deps.standingReads } : {}),
    onReplay: ({ clientId, ip }) => {
      logger.warn({ event: 'auth.replay_detected', client: clientId }, 'replayed DPoP proof refused');
      void audit?.record({ action: AUDIT_ACTIONS.replayDetected, outcome: 'denied', clientId, ip }).catch(() => undefined);
    },
    onStandingRefused: ({ clientId, ip, requestId }) => void decoys.reportIfDecoy(clientId, { how: 'bearer_token', ip, requestId }),
  });

  return {
    clients: store.service,
    users,
    usage,
    async clientSecretMatches(clientId: string, secret: string): Promise<boolean> {
      const m = await store.findMetadata(clientId);
      return m !== undefined && clientSecrets.matches(secret, m.client_secret);
    },
    handle(req: IncomingMessage, res: ServerResponse, caller) {
      // Koa handles its own errors (the 'error' event above); nothing to await here. The caller
      // goes along for the client lookups (a decoy's use is reported with its address).
      decoys.context.run(caller, () => void callback(req, res));
    },
    decoys,
    isOidcPath,
    clientRules,
    assertions: createAssertionSigner({ privateJwks: keys.privateJwks, issuer }),
    registerPages: (app) => registerInteractionRoutes(app, interactions),
    authenticate: verifier,
    recheck: (principal) => verifier.recheck(principal),
    async close() {
      await usage.close();
      await replay.close();
    },
  };
}
