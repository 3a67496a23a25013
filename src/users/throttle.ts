// Failed sign-ins and second-factor attempts, counted through the shared brute-force guard of the
// rate limits (issue 5): with REDIS_URL the counters and lockouts live in Redis, so failures on one
// node lock the account on every node. Keys hold a blind index, an IP or a user id, never an e-mail:
//   signin:acct:<blind index>   signin:ip:<ip>   mfa:<user id>
// Without a guard (the CLI, unit tests) an in-memory guard with the default policy stands in.
import { createBruteForceGuard, type BruteForceGuard, type LockStarted } from '../gateway/rate-limit/brute-force.js';
import { DEFAULT_RATE_LIMITS } from '../gateway/rate-limit/settings.js';

export type { LockStarted } from '../gateway/rate-limit/brute-force.js';

export const accountKey = (blindIndex: string) => `signin:acct:${blindIndex}`;
export const ipKey = (ip: string) => `signin:ip:${ip}`;
export const mfaKey = (userId: string) => `mfa:${userId}`;

export interface SignInThrottle {
  /** Milliseconds until another attempt is allowed for these keys (0 when allowed now). */
  retryAfterMs(keys: readonly string[]): Promise<number>;
  /** Counts a failure on every key; returns the keys whose lockout started now. */
  recordFailure(keys: readonly string[]): Promise<LockStarted[]>;
  /** Clears these keys' counters. Callers pass the account only, never the IP: one good password must not reset an attack. */
  recordSuccess(keys: readonly string[]): Promise<void>;
}

// Many people can share one IP (an office, a carrier NAT): an IP gets several times the failures
// an account gets before it is locked, so one person's typos do not lock out their colleagues.
const IP_ALLOWANCE_FACTOR = 3;

export function createSignInThrottle(guard: BruteForceGuard = createBruteForceGuard(DEFAULT_RATE_LIMITS.bruteForce)): SignInThrottle {
  return {
    retryAfterMs: (keys) => guard.check(keys),
    async recordFailure(keys) {
      const ips = keys.filter((k) => k.startsWith('signin:ip:'));
      const others = keys.filter((k) => !k.startsWith('signin:ip:'));
      const started = others.length ? await guard.fail(others) : [];
      if (ips.length) started.push(...(await guard.fail(ips, { freeAttempts: guard.freeAttempts * IP_ALLOWANCE_FACTOR })));
      return started;
    },
    recordSuccess: (keys) => guard.succeed(keys),
  };
}
