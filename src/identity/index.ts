// The identity capability: the authorization server (oidc-provider), OAuth clients, and the
// verification of the access tokens it issues.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError } from '../errors.js';
import { createClientSecrets } from './client-secret.js';
import { createClientStore } from './clients.js';
import { loadSigningKeys } from './keys.js';
import { createAdapterFactory } from './oidc-adapter.js';
import { buildProvider } from './provider.js';
import { createTokenVerifier } from './token-verifier.js';
import type { Identity, IdentityDeps } from './types.js';

export type {
  ClientAuthMethod, ClientInfo, ClientService, CreateClientInput, CreatedClient, GrantType, Identity, IdentityDeps,
  IdentityLogger, OidcAccount,
} from './types.js';
export { ACCESS_TOKEN_TTL_S, OIDC_ROUTES } from './provider.js';

const DISCOVERY_PATHS = new Set(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']);

/** True for the paths the authorization server answers: discovery and everything under /oauth/. */
export function isOidcPath(pathname: string): boolean {
  return DISCOVERY_PATHS.has(pathname) || pathname.startsWith('/oauth/');
}

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
  const keys = await loadSigningKeys(secrets);

  // The client store needs the provider's metadata validation, and the provider needs the client
  // store's lookup: the lookup is bound late through this closure.
  let findMetadata: (id: string) => Promise<Record<string, unknown> | undefined> = async () => undefined;
  const adapter = createAdapterFactory(db, (id) => findMetadata(id), (err) => {
    logger.warn({ event: 'oidc.purge_failed', error: (err as Error | undefined)?.name ?? 'Error' }, 'purging expired OAuth artifacts failed');
  });
  const provider = buildProvider({
    issuer,
    adapter,
    privateJwks: keys.privateJwks,
    cookieKeys: keys.cookieKeys,
    clientSecrets,
    logger,
    trustProxy: deps.trustProxy === true,
    ...(deps.findAccount ? { findAccount: deps.findAccount } : {}),
  });
  const store = createClientStore({ db, secrets: clientSecrets, validateMetadata: (m) => provider.Client.validate(m) });
  findMetadata = store.findMetadata;

  const callback = provider.callback();
  return {
    clients: store.service,
    handle(req: IncomingMessage, res: ServerResponse) {
      // Koa handles its own errors (the 'error' event above); nothing to await here.
      void callback(req, res);
    },
    isOidcPath,
    authenticate: createTokenVerifier({ db, issuer, publicJwks: keys.publicJwks }),
  };
}
