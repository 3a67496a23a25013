// Opaque IDs with a type prefix (CONTRACT §3): prefix_ + 10 chars of time + 16 random chars,
// Crockford base32. Lexicographic order follows creation order, which keeps cursors stable.
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export type IdPrefix = 'ten' | 'cus' | 'acc' | 'tr' | 'hold' | 'whe' | 'evt' | 'alr' | 'ent' | 'dk' | 'cli' | 'usr' | 'aud';

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function randomPart(): string {
  const bytes = randomBytes(16);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % 32];
  return out;
}

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${encodeTime(Date.now())}${randomPart()}`;
}

const ID_SHAPE = /^[a-z]{2,4}_[0-9a-z]{26}$/;

/** True when s has the shape of an ID with this prefix (cheap check before touching the database). */
export function isId(prefix: IdPrefix, s: string): boolean {
  return s.startsWith(`${prefix}_`) && ID_SHAPE.test(s);
}
