// DPoP (RFC 9449) for the console's tokens: one key pair per session, kept server-side; every
// token request and API call carries a fresh proof.
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export interface DpopKey {
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function newDpopKey(): Promise<DpopKey> {
  // Extractable: the private key is kept, sealed, in the session's row (sessions.ts).
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, jwk: await exportJWK(publicKey) };
}

/** A proof for `method url` (RFC 9449 §4.2); `ath` binds it to the access token when one is sent. */
export function dpopProof(key: DpopKey, method: string, url: string, accessToken?: string): Promise<string> {
  return new SignJWT({
    htm: method,
    htu: url,
    jti: randomUUID(),
    ...(accessToken ? { ath: createHash('sha256').update(accessToken).digest('base64url') } : {}),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .setIssuedAt()
    .sign(key.privateKey);
}
