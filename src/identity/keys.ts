// The authorization server's own secrets: token-signing keys (a private JWK set) and cookie keys.
// Generated on first use and kept encrypted in `platform_secrets`, so every node signs with the same
// keys and verifies what any other node issued.
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { PlatformSecrets } from '../crypto/platform-secrets.js';

/** Signing algorithms of the platform, everywhere (no HS*: a client-secret hash must never act as a key). */
export const SIGNING_ALGS = ['ES256', 'PS256', 'EdDSA'] as const;

const JWKS_SECRET = 'oidc-jwks';
const COOKIE_SECRET = 'oidc-cookie-keys';

const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ['kty', 'crv', 'x', 'y'],
  RSA: ['kty', 'n', 'e'],
  OKP: ['kty', 'crv', 'x'],
};

async function privateJwk(alg: 'ES256' | 'PS256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'PS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  jwk.kid = await calculateJwkThumbprint(jwk, 'sha256');
  jwk.alg = alg;
  jwk.use = 'sig';
  return jwk;
}

async function generateJwks(): Promise<string> {
  // ES256 first: it is the access-token algorithm; PS256 is there for clients that need RSA.
  return JSON.stringify({ keys: [await privateJwk('ES256'), await privateJwk('PS256')] });
}

function generateCookieKeys(): string {
  return JSON.stringify([randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')]);
}

export interface SigningKeys {
  /** Private JWKs for oidc-provider's `jwks` option. */
  privateJwks: { keys: JWK[] };
  /** The same keys without private members, for local verification. */
  publicJwks: { keys: JWK[] };
  cookieKeys: string[];
}

function isJwkSet(value: unknown): value is { keys: JWK[] } {
  const keys = (value as { keys?: unknown } | null)?.keys;
  return (
    Array.isArray(keys) && keys.length > 0 && keys.every((k) => typeof k === 'object' && k !== null && typeof (k as JWK).kid === 'string')
  );
}

export function toPublicJwk(jwk: JWK): JWK {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new Error('unsupported signing key type');
  const out: JWK = {};
  for (const m of members) (out as Record<string, unknown>)[m] = (jwk as Record<string, unknown>)[m];
  if (jwk.kid !== undefined) out.kid = jwk.kid;
  if (jwk.alg) out.alg = jwk.alg;
  out.use = 'sig';
  return out;
}

export async function loadSigningKeys(secrets: PlatformSecrets): Promise<SigningKeys> {
  const jwks: unknown = JSON.parse(await secrets.getOrCreate(JWKS_SECRET, generateJwks));
  if (!isJwkSet(jwks)) throw new Error(`platform secret ${JWKS_SECRET} is not a JWK set`);
  const cookieKeys: unknown = JSON.parse(await secrets.getOrCreate(COOKIE_SECRET, generateCookieKeys));
  if (!Array.isArray(cookieKeys) || cookieKeys.length === 0 || !cookieKeys.every((k) => typeof k === 'string' && k.length >= 32)) {
    throw new Error(`platform secret ${COOKIE_SECRET} is not a list of keys`);
  }
  return {
    privateJwks: { keys: jwks.keys },
    publicJwks: { keys: jwks.keys.map(toPublicJwk) },
    cookieKeys: cookieKeys as string[],
  };
}
