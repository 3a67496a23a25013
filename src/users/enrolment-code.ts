// One-time TOTP enrolment codes. Whoever creates a user with a role that needs a second factor
// (or resets it) hands the code over on a separate channel; the sign-in page asks for it before a
// TOTP secret is shown, so the password alone cannot bind an attacker's authenticator.
// 96 random bits, so an HMAC (not a slow hash) is the right way to store it; single use, 72 h.
import { randomBytes } from 'node:crypto';
import { hmacHex } from '../crypto/hmac.js';
import type { Sql } from '../storage/types.js';

export const ENROLMENT_CODE_TTL_MS = 72 * 3600_000;

export interface IssuedEnrolmentCode {
  /** Shown once to the operator who created the user; 24 hex digits in groups of four. */
  code: string;
  expiresAt: number;
}

const normalize = (code: string) => code.replace(/[\s-]/g, '').toLowerCase();

export function enrolmentCodeHash(key: Buffer, userId: string, code: string): string {
  return hmacHex(key, `enrol:${userId}`, normalize(code));
}

/** Stores a fresh code for the user (replacing any earlier one) in the caller's transaction. */
export async function issueEnrolmentCode(tx: Sql, key: Buffer, userId: string, now = Date.now()): Promise<IssuedEnrolmentCode> {
  const code = randomBytes(12)
    .toString('hex')
    .replace(/(.{4})(?!$)/g, '$1-');
  const expiresAt = now + ENROLMENT_CODE_TTL_MS;
  await tx.run('UPDATE users SET enrol_code_hash = $2, enrol_code_expires_at = $3 WHERE id = $1', [
    userId,
    enrolmentCodeHash(key, userId, code),
    expiresAt,
  ]);
  return { code, expiresAt };
}

/**
 * Consumes the code if it is the user's current, unexpired one: a compare-and-set, so the same
 * code can never start two enrolments, even on two nodes at once.
 */
export async function redeemEnrolmentCode(tx: Sql, key: Buffer, userId: string, code: string, now = Date.now()): Promise<boolean> {
  if (typeof code !== 'string' || normalize(code).length < 20 || code.length > 64) return false;
  const changed = await tx.run(
    'UPDATE users SET enrol_code_hash = NULL, enrol_code_expires_at = NULL WHERE id = $1 AND enrol_code_hash = $2 AND enrol_code_expires_at > $3',
    [userId, enrolmentCodeHash(key, userId, code), now],
  );
  return changed > 0;
}
