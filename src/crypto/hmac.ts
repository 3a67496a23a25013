// Keyed hashes: blind indexes for exact-match lookup of encrypted values, and hashes of long
// random secrets (client secrets), compared in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';

export function hmacHex(key: Buffer, domain: string, value: string): string {
  return createHmac('sha256', key).update(domain).update('\0').update(value).digest('hex');
}

/** Blind index of an e-mail: normalized (trimmed, lower case), scoped to its tenant. */
export function emailBlindIndex(key: Buffer, tenantId: string, email: string): string {
  return hmacHex(key, `email:${tenantId}`, email.trim().toLowerCase());
}

export function constantTimeEqualHex(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ba.length === bb.length && ba.length > 0 && timingSafeEqual(ba, bb);
}
