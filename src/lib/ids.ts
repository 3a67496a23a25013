// Opaque IDs with a type prefix (docs/contract.md §3): prefix_ + 10 chars of time + 16 random chars,
// Crockford base32. Lexicographic order follows creation order, which keeps cursors stable.
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export type IdPrefix =
  'ten' | 'cus' | 'acc' | 'tr' | 'hold' | 'whe' | 'whd' | 'evt' | 'alr' | 'ent' | 'dk' | 'cli' | 'usr' | 'aud' | 'scn' | 'con';

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

// Random bytes come from the CSPRNG in blocks: one call per 256 IDs instead of one per ID (a
// posting makes five IDs, and the per-call cost showed in the transfer path's profile).
const POOL_BYTES = 16 * 256;
let pool = randomBytes(POOL_BYTES);
let offset = 0;

function randomPart(): string {
  if (offset + 16 > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  let out = '';
  // 256 is a multiple of 32, so `b % 32` is uniform.
  for (let i = offset; i < offset + 16; i++) out += ALPHABET[(pool[i] as number) % 32];
  offset += 16;
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
