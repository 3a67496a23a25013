// The identity assertion an upstream receives in X-Vaultgate-Assertion (docs/contract.md §6): who
// called, for which tenant, with which scopes, signed by the platform's ES256 key so the upstream
// verifies it with the JWKS discovery lists. It replaces the caller's token, which never leaves
// vaultgate: the upstream cannot replay a token it never saw. The explicit `typ` and `aud` = the
// upstream's name keep it from passing as an access token or at another upstream (RFC 8725 §3.11).
import { randomBytes } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';

export const ASSERTION_TYP = 'vaultgate-assertion+jwt';
/** Seconds; short, because it is minted per request and only has to survive one hop. */
export const ASSERTION_LIFETIME = 60;

export interface AssertionInput {
  /** The upstream's name: the assertion is good for that service only. */
  audience: string;
  subject: string;
  tenantId: string;
  clientId: string;
  /** Space-separated, as in the access token. */
  scope: string;
  /** The caller's key binding (`jkt` for DPoP, `x5t#S256` for mTLS), when its token had one. */
  cnf?: Readonly<Record<string, string>> | undefined;
}

export interface AssertionSigner {
  sign(input: AssertionInput): Promise<string>;
}

export interface AssertionSignerOptions {
  privateJwks: { keys: readonly JWK[] };
  /** VAULTGATE_PUBLIC_URL. */
  issuer: string;
  /** Milliseconds since the epoch. */
  now?: () => number;
}

export function createAssertionSigner(options: AssertionSignerOptions): AssertionSigner {
  // Looked up at once, so a key set without an ES256 signing key fails the start, not a request.
  const jwk = options.privateJwks.keys.find((k) => k.alg === 'ES256' && k.kty === 'EC' && typeof k.d === 'string');
  if (jwk?.kid === undefined) throw new Error('the platform key set has no ES256 private key with a kid');
  const kid = jwk.kid;
  const now = options.now ?? Date.now;
  // Imported once, on first use: a promise made here could reject with nobody listening.
  let key: ReturnType<typeof importJWK> | undefined;

  return {
    async sign(input) {
      key ??= importJWK(jwk, 'ES256');
      const iat = Math.floor(now() / 1000);
      const claims: Record<string, unknown> = { tenant_id: input.tenantId, client_id: input.clientId, scope: input.scope };
      if (input.cnf !== undefined) claims.cnf = { ...input.cnf };
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: ASSERTION_TYP, kid })
        .setIssuer(options.issuer)
        .setAudience(input.audience)
        .setSubject(input.subject)
        .setJti(randomBytes(16).toString('base64url'))
        .setIssuedAt(iat)
        .setExpirationTime(iat + ASSERTION_LIFETIME)
        .sign(await key);
    },
  };
}
