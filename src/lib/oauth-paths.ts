// The authorization server's paths, in one place: the provider mounts its routes here, the gateway
// hands these paths to it raw, and the client-authentication endpoints share one failure budget.

/** Every route of oidc-provider, moved under /oauth. */
export const OIDC_ROUTES = {
  authorization: '/oauth/authorize',
  pushed_authorization_request: '/oauth/par',
  token: '/oauth/token',
  jwks: '/oauth/jwks',
  introspection: '/oauth/introspect',
  revocation: '/oauth/revoke',
  userinfo: '/oauth/userinfo',
  end_session: '/oauth/logout',
  registration: '/oauth/register',
  code_verification: '/oauth/device',
  device_authorization: '/oauth/device/auth',
  backchannel_authentication: '/oauth/backchannel',
  challenge: '/oauth/challenge',
  credential: '/oauth/credential',
} as const;

export const DISCOVERY_PATHS: ReadonlySet<string> = new Set([
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
]);

/** The sign-in, TOTP and consent pages: ordinary gateway routes (identity/interactions/routes.ts), not the provider's. */
export const INTERACTION_PREFIX = '/oauth/interaction/';

/** The endpoints where a client authenticates (secret, private_key_jwt or certificate). */
export const CLIENT_AUTH_PATHS: ReadonlySet<string> = new Set([
  OIDC_ROUTES.token,
  OIDC_ROUTES.pushed_authorization_request,
  OIDC_ROUTES.introspection,
  OIDC_ROUTES.revocation,
]);

/**
 * True for the paths the authorization server answers itself: discovery and everything under
 * /oauth/ except the sign-in pages. A %-escape in such a path is never needed; it is left to the
 * gateway's router (404), so no spelling of an endpoint reaches the authorization server past the
 * gateway's checks on it.
 */
export function isOidcPath(pathname: string): boolean {
  if (pathname.includes('%')) return false;
  return DISCOVERY_PATHS.has(pathname) || (pathname.startsWith('/oauth/') && !pathname.startsWith(INTERACTION_PREFIX));
}
