// The delivery signature (docs/contract.md §9), after Stripe's: `Vaultgate-Signature:
// t=UNIX_SECONDS,v1=HEX(HMAC-SHA256(secret, t + "." + raw body))`, one `v1` per live secret
// while a rotation overlaps, so a receiver holding either secret verifies. The timestamp is
// signed, so a receiver can refuse old deliveries replayed at it.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'vaultgate-signature';

export function signatureHeader(secrets: readonly string[], timestampSeconds: number, body: string): string {
  const signed = `${timestampSeconds}.${body}`;
  return [`t=${timestampSeconds}`, ...secrets.map((s) => `v1=${createHmac('sha256', s).update(signed).digest('hex')}`)].join(',');
}

/** What a receiver does (and the tests): true when one v1 matches and t is within `toleranceSeconds` of now. */
export function verifySignature(header: string, secret: string, body: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const parts = header.split(',').map((p) => p.split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return parts
    .filter(([k, v]) => k === 'v1' && v !== undefined && /^[0-9a-f]{64}$/.test(v))
    .some(([, v]) => timingSafeEqual(Buffer.from(v as string, 'hex'), expected));
}
