// DPoP proofs at the resource server (RFC 9449 §4.3, §7.1): the proof is signed by the key the
// token is bound to (`cnf.jkt`), names this request's method and URL, is fresh, carries the hash
// of the access token (`ath`) and is used once (`jti`, replay cache).
import { createHash } from 'node:crypto';
import { EmbeddedJWK, calculateJwkThumbprint, jwtVerify, type JWK } from 'jose';
import { SIGNING_ALGS } from './keys.js';
import type { ReplayCache } from './replay-cache.js';

/** How old a proof may be (its `iat`), and how far ahead of our clock. */
export const DPOP_MAX_AGE_S = 60;
const DPOP_FUTURE_S = 5;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'priv'];

export type DpopOutcome = 'ok' | 'invalid' | 'replayed';

/** RFC 9449 §4.3 point 9: the URL without query and fragment. */
export function htuOf(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

export function ath(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

export async function checkDpopProof(input: {
  proof: string;
  method: string;
  /** The absolute URL of this request (from the configured public URL, never from Host). */
  url: string;
  accessToken: string;
  jkt: string;
  replay: ReplayCache;
  now?: number;
}): Promise<DpopOutcome> {
  let payload: Record<string, unknown>;
  let jwk: JWK | undefined;
  try {
    const verified = await jwtVerify(input.proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...SIGNING_ALGS] });
    payload = verified.payload;
    jwk = verified.protectedHeader.jwk;
  } catch {
    return 'invalid';
  }
  if (!jwk || PRIVATE_MEMBERS.some((m) => m in jwk)) return 'invalid';
  const now = Math.floor((input.now ?? Date.now()) / 1000);
  const { htm, htu, iat, jti } = payload;
  if (htm !== input.method) return 'invalid';
  if (typeof htu !== 'string') return 'invalid';
  try {
    if (htuOf(htu) !== htuOf(input.url)) return 'invalid';
  } catch {
    return 'invalid';
  }
  if (typeof iat !== 'number' || iat < now - DPOP_MAX_AGE_S || iat > now + DPOP_FUTURE_S) return 'invalid';
  if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256) return 'invalid';
  if (payload.ath !== ath(input.accessToken)) return 'invalid';
  if ((await calculateJwkThumbprint(jwk, 'sha256')) !== input.jkt) return 'invalid';
  // Last, so a bad proof never fills the cache; the window covers the whole accepted iat range.
  const fresh = await input.replay.firstUse(`${input.jkt}:${jti}`, (DPOP_MAX_AGE_S + DPOP_FUTURE_S) * 1000);
  return fresh ? 'ok' : 'replayed';
}
