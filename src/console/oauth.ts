// The console as a FAPI 2.0 client of vaultgate's own authorization server: pushed authorization
// requests (RFC 9126) with PKCE S256, private_key_jwt (RFC 7523), DPoP-bound tokens (RFC 9449),
// the issuer in the authorization response checked (RFC 9207), the ID token verified, refresh
// and revocation. Every call goes to the endpoints discovery lists, through the loopback.
import { createHash, randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { OIDC_ROUTES } from '../lib/oauth-paths.js';
import type { ConsoleClients } from './console-clients.js';
import { dpopProof, type DpopKey } from './dpop.js';
import { FORM_TYPE, formBody, type Loopback } from './loopback.js';
import type { Tokens } from './sessions.js';
import { AUTH_TIME_SKEW_S, CONSOLE_SCOPES } from './settings.js';

/** Why the authorization server said no (its OAuth error code only; never its description). */
export class OAuthError extends Error {
  constructor(readonly code: string) {
    super(`oauth: ${code}`);
  }
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function json(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** An ID token's auth_time (s) falls within the sign-in that started at `startedAt` (ms), as of `now` (ms). */
export const freshAuthentication = (authTime: unknown, startedAt: number, now: number): boolean =>
  typeof authTime === 'number' && authTime >= Math.floor(startedAt / 1000) - AUTH_TIME_SKEW_S && authTime <= now / 1000 + AUTH_TIME_SKEW_S;

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

export function createOAuth(deps: { issuer: string; loopback: Loopback; clients: ConsoleClients }) {
  const { issuer, loopback, clients } = deps;

  async function clientAuth(clientId: string) {
    return {
      client_id: clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await clients.assertion(clientId),
    };
  }

  async function post(path: string, fields: Record<string, string>, ip: string, dpop?: DpopKey) {
    const headers: Record<string, string> = { ...FORM_TYPE, accept: 'application/json' };
    if (dpop) headers.dpop = await dpopProof(dpop, 'POST', `${issuer}${path}`);
    const res = await loopback({ method: 'POST', url: path, headers, body: formBody(fields), ip });
    const body = json(res.text);
    if (res.status < 200 || res.status >= 300) throw new OAuthError(str(body.error) ?? `http_${res.status}`);
    return body;
  }

  function toTokens(body: Record<string, unknown>, previousRefresh?: string): Tokens {
    const accessToken = str(body.access_token);
    const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : 0;
    if (!accessToken || str(body.token_type)?.toLowerCase() !== 'dpop') throw new OAuthError('unexpected_token_response');
    return {
      accessToken,
      // The refresh token may rotate (then the new one replaces the old).
      refreshToken: str(body.refresh_token) ?? previousRefresh,
      expiresAt: Date.now() + expiresIn * 1000,
      scopes: (str(body.scope) ?? '').split(' ').filter((s) => s !== ''),
    };
  }

  /** The platform's signing keys, for the ID token (fetched per sign-in: rare, and a rotation is seen at once). */
  async function jwks(ip: string) {
    const res = await loopback({ method: 'GET', url: OIDC_ROUTES.jwks, ip });
    if (res.status !== 200) throw new OAuthError('jwks_unavailable');
    return createLocalJWKSet(JSON.parse(res.text) as JSONWebKeySet);
  }

  return {
    /** PAR, then the URL of the authorization endpoint to send the browser to. */
    async authorizationUrl(p: { clientId: string; state: string; nonce: string; challenge: string; ip: string }): Promise<string> {
      const body = await post(
        OIDC_ROUTES.pushed_authorization_request,
        {
          ...(await clientAuth(p.clientId)),
          response_type: 'code',
          redirect_uri: clients.redirectUri,
          scope: `openid ${CONSOLE_SCOPES.join(' ')}`,
          code_challenge: p.challenge,
          code_challenge_method: 'S256',
          state: p.state,
          nonce: p.nonce,
          // Every console sign-in asks for the password (and TOTP) again, whatever sign-in the
          // authorization server still remembers (OIDC Core §3.1.2.1): a sign-out and back in is
          // never silent. The sign-in pages keep the login result through consent.
          prompt: 'login',
        },
        p.ip,
      );
      const requestUri = str(body.request_uri);
      if (!requestUri) throw new OAuthError('no_request_uri');
      return `${OIDC_ROUTES.authorization}?${formBody({ client_id: p.clientId, request_uri: requestUri })}`;
    },

    /**
     * The code for tokens; returns them with the ID token's subject (verified: signature, iss, aud,
     * nonce, and an auth_time within this sign-in: `startedAt`, when it was started, in ms).
     */
    async exchange(p: { clientId: string; code: string; verifier: string; nonce: string; dpop: DpopKey; ip: string; startedAt: number }) {
      const body = await post(
        OIDC_ROUTES.token,
        {
          ...(await clientAuth(p.clientId)),
          grant_type: 'authorization_code',
          code: p.code,
          redirect_uri: clients.redirectUri,
          code_verifier: p.verifier,
        },
        p.ip,
        p.dpop,
      );
      const idToken = str(body.id_token);
      if (!idToken) throw new OAuthError('no_id_token');
      const { payload } = await jwtVerify(idToken, await jwks(p.ip), { issuer, audience: p.clientId });
      if (payload.nonce !== p.nonce || typeof payload.sub !== 'string') throw new OAuthError('id_token_mismatch');
      // With prompt=login the user signed in during this very sign-in: auth_time (in the ID token,
      // OIDC Core §2) is not before it started, nor in the future (a little clock skew allowed).
      if (!freshAuthentication(payload.auth_time, p.startedAt, Date.now())) throw new OAuthError('stale_authentication');
      return { tokens: toTokens(body), userId: payload.sub };
    },

    async refresh(p: { clientId: string; tokens: Tokens; dpop: DpopKey; ip: string }): Promise<Tokens> {
      if (!p.tokens.refreshToken) throw new OAuthError('no_refresh_token');
      const body = await post(
        OIDC_ROUTES.token,
        { ...(await clientAuth(p.clientId)), grant_type: 'refresh_token', refresh_token: p.tokens.refreshToken },
        p.ip,
        p.dpop,
      );
      return toTokens(body, p.tokens.refreshToken);
    },

    /** Revokes the refresh token, which ends the grant and every access token minted from it. */
    async revoke(p: { clientId: string; tokens: Tokens; ip: string }): Promise<void> {
      const token = p.tokens.refreshToken ?? p.tokens.accessToken;
      await post(
        OIDC_ROUTES.revocation,
        {
          ...(await clientAuth(p.clientId)),
          token,
          token_type_hint: p.tokens.refreshToken ? 'refresh_token' : 'access_token',
        },
        p.ip,
      );
    },
  };
}

export type OAuth = ReturnType<typeof createOAuth>;
