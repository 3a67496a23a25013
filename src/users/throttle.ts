// Failed sign-ins slow down per account and per IP with growing delays (exponential, capped).
// Keys are blind indexes and IPs, never e-mails. In memory per node: a determined attacker spread
// over several nodes gets at most N times the attempts, still exponentially delayed.
const ACCOUNT_FREE_FAILURES = 3;
// Many people can share one IP (NAT, offices): the IP limit starts later.
const IP_FREE_FAILURES = 10;
const MAX_DELAY_MS = 15 * 60_000;
const FORGET_AFTER_MS = 60 * 60_000;
const MAX_ENTRIES = 100_000;

interface Entry {
  failures: number;
  blockedUntil: number;
  lastAt: number;
}

export interface SignInThrottle {
  /** Milliseconds until another attempt is allowed for these keys (0 when allowed now). */
  retryAfterMs(accountKey: string, ip: string): number;
  recordFailure(accountKey: string, ip: string): void;
  /** A success clears the account's failures (not the IP's: one good password must not reset an attack). */
  recordSuccess(accountKey: string): void;
}

export function delayFor(failures: number, freeFailures: number): number {
  if (failures < freeFailures) return 0;
  return Math.min(1000 * 2 ** (failures - freeFailures), MAX_DELAY_MS);
}

export function createSignInThrottle(now: () => number = Date.now): SignInThrottle {
  const entries = new Map<string, Entry>();

  function get(key: string): Entry | undefined {
    const e = entries.get(key);
    if (e && now() - e.lastAt > FORGET_AFTER_MS) {
      entries.delete(key);
      return undefined;
    }
    return e;
  }

  function fail(key: string, free: number): void {
    const t = now();
    const e = get(key) ?? { failures: 0, blockedUntil: 0, lastAt: t };
    e.failures += 1;
    e.lastAt = t;
    e.blockedUntil = t + delayFor(e.failures, free);
    entries.delete(key);
    entries.set(key, e);
    if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
  }

  return {
    retryAfterMs(accountKey, ip) {
      const t = now();
      const wait = Math.max(get(`a:${accountKey}`)?.blockedUntil ?? 0, get(`i:${ip}`)?.blockedUntil ?? 0) - t;
      return wait > 0 ? wait : 0;
    },
    recordFailure(accountKey, ip) {
      fail(`a:${accountKey}`, ACCOUNT_FREE_FAILURES);
      fail(`i:${ip}`, IP_FREE_FAILURES);
    },
    recordSuccess(accountKey) {
      entries.delete(`a:${accountKey}`);
    },
  };
}
