// The identity assertion an upstream receives in X-Vaultgate-Assertion (docs/contract.md §6): who
// called, for which tenant, with which scopes, signed by the platform's ES256 key so the upstream
// verifies it with the JWKS discovery lists. It replaces the caller's token, which never leaves
// vaultgate: the upstream cannot replay a token it never saw. The explicit `typ` and `aud` = the
// upstream's name keep it from passing as an access token or at another upstream (RFC 8725 §3.11).
import { createPrivateKey, randomBytes, sign, type JsonWebKey } from 'node:crypto';
import type { JWK } from 'jose';

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
  // Signed here with node:crypto, synchronously: one ECDSA signature is cheaper than the promise,
  // the thread-pool hop and the claim builder of a JOSE library, and this runs once per proxied
  // request. The output is a plain compact JWS (RFC 7515): header and claims as JSON, base64url,
  // and the signature as R || S (RFC 7518 §3.4), verified by any JOSE library.
  const key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: ASSERTION_TYP, kid })).toString('base64url');

  return {
    async sign(input) {
      const iat = Math.floor(now() / 1000);
      const claims: Record<string, unknown> = {
        iss: options.issuer,
        aud: input.audience,
        sub: input.subject,
        jti: randomBytes(16).toString('base64url'),
        iat,
        exp: iat + ASSERTION_LIFETIME,
        tenant_id: input.tenantId,
        client_id: input.clientId,
        scope: input.scope,
      };
      if (input.cnf !== undefined) claims.cnf = { ...input.cnf };
      const signingInput = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
      return `${signingInput}.${signature.toString('base64url')}`;
    },
  };
}
