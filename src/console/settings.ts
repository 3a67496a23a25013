// The console's fixed settings: the permissions it asks for, its cookies and its timeouts.
// A session is held to both timeouts; the authorization server's own limits (access token 10 min,
// refresh token and grant 24 h) are wider, so the console's are the ones that bite.

import { isScope, type Scope } from '../lib/principal.js';

/**
 * What the console asks for; each token gets only what the user's role allows (lib/roles.ts).
 * A permission the platform does not know (yet) is left out rather than refused at registration.
 */
const WANTED = [
  'alerts:read',
  'alerts:write',
  'audit:read',
  'admin:clients',
  'admin:users',
  'admin:keys',
  'analytics:read',
  'webhooks:manage',
  'scans:run',
];
export const CONSOLE_SCOPES: readonly Scope[] = WANTED.filter(isScope);

/** The name every tenant's console client is registered under (it shows on the clients page). */
export const CONSOLE_CLIENT_NAME = 'vaultgate console';

/** `__Host-`: Secure, Path=/ and no Domain, so no other host or path can set or shadow it. */
export const SESSION_COOKIE = '__Host-vg-console';
/** Binds an authorization request to the browser that started it (login CSRF, RFC 9700 §4.7). */
export const LOGIN_COOKIE = '__Host-vg-console-login';

/** The clock skew allowed on an ID token's auth_time (the console asks prompt=login: it must fall within the sign-in). */
export const AUTH_TIME_SKEW_S = 5;
export const IDLE_TIMEOUT_MS = 15 * 60_000;
export const ABSOLUTE_TIMEOUT_MS = 8 * 3600_000;
/** A sign-in that has not come back by then is dropped (the authorization server's interaction lasts 10 min). */
export const LOGIN_TIMEOUT_MS = 10 * 60_000;
/** An access token this close to its expiry is refreshed before use. */
export const REFRESH_MARGIN_MS = 60_000;
