// The audit signing key (Ed25519): generated with node:crypto on first use and kept, encrypted,
// with the other platform secrets, so every node and the CLI sign and verify with the same key.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import type { PlatformSecrets } from '../crypto/platform-secrets.js';

export interface AuditKey {
  /** First 16 hex digits of SHA-256 over the raw public key: names the key in checkpoints. */
  kid: string;
  /** The public key as a JWK (OKP/Ed25519), safe to publish. */
  publicJwk: { kty: string; crv: string; x: string; kid: string; alg: 'EdDSA'; use: 'sig' };
  sign(message: Buffer): string;
  verify(message: Buffer, signatureB64url: string): boolean;
}

export async function loadAuditKey(secrets: PlatformSecrets): Promise<AuditKey> {
  const pem = await secrets.getOrCreate('audit-ed25519', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  });
  const privateKey: KeyObject = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const jwk = publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string };
  const kid = createHash('sha256').update(Buffer.from(jwk.x, 'base64url')).digest('hex').slice(0, 16);
  return {
    kid,
    publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid, alg: 'EdDSA', use: 'sig' },
    sign: (message) => sign(null, message, privateKey).toString('base64url'),
    verify: (message, signature) => {
      try {
        return verify(null, message, publicKey, Buffer.from(signature, 'base64url'));
      } catch {
        return false;
      }
    },
  };
}
