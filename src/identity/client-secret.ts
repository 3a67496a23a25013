// Client secrets are long random values, so a keyed HMAC-SHA-256 is the right hash (a slow password
// hash on every token request would be a denial-of-service lever). Only the hash is stored.
import { randomBytes } from 'node:crypto';
import { constantTimeEqualHex, hmacHex } from '../crypto/hmac.js';
import type { MasterKey } from '../crypto/master-key.js';

const DOMAIN = 'client-secret';
const SECRET_BYTES = 32;

export interface ClientSecrets {
  /** A fresh secret (shown once) and the hash to store. */
  generate(): { secret: string; hash: string };
  /** Constant-time comparison of a presented secret with a stored hash. */
  matches(presented: unknown, storedHash: unknown): boolean;
}

export function createClientSecrets(master: MasterKey): ClientSecrets {
  const key = master.derive('secret-hash');
  return {
    generate() {
      const secret = randomBytes(SECRET_BYTES).toString('base64url');
      return { secret, hash: hmacHex(key, DOMAIN, secret) };
    },
    matches(presented, storedHash) {
      if (typeof presented !== 'string' || typeof storedHash !== 'string' || presented.length === 0) return false;
      // Bound the work an attacker can ask for; real secrets are 43 characters.
      if (presented.length > 512) return false;
      return constantTimeEqualHex(hmacHex(key, DOMAIN, presented), storedHash);
    },
  };
}
