// TOTP (RFC 6238) through otplib: 6 digits, 30-second steps, one step of drift either side.
import { authenticator } from 'otplib';

const totp = authenticator.clone({ window: 1, step: 30, digits: 6 });

export function newTotpSecret(): string {
  return totp.generateSecret(20); // 160 bits (RFC 4226 §4 recommends at least 128)
}

export function totpUri(account: string, issuer: string, secret: string): string {
  return totp.keyuri(account, issuer, secret);
}

/** The time step a valid code belongs to, or undefined (the caller refuses a step already used). */
export function totpStep(secret: string, code: string, now: number = Date.now()): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const delta = totp.checkDelta(code, secret);
  if (delta === null) return undefined;
  return Math.floor(now / 30_000) + delta;
}

/** For tests and the enrolment page check: the current code of a secret. */
export function totpNow(secret: string): string {
  return totp.generate(secret);
}
