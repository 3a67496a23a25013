// A reusable brute-force guard: failures are counted per key (a client id, an account, an IP),
// and after `freeAttempts` failures within the window each further failure locks the key for
// a growing time (base, 2×base, 4×base … capped): guessing slows down exponentially while an
// honest user who mistypes twice is not affected. A success clears the key's counter.
//
// The token endpoint uses it per client id and per IP; sign-in pages use it per account and
// per IP: `check` before verifying, `fail` or `succeed` after. Callers answer a locked key with
// the same generic response whether or not the account exists.
import type { Redis } from 'ioredis';
import type { RedisHealth } from './redis-health.js';
import type { RateLimitSettings } from './settings.js';

export interface LockStarted {
  key: string;
  failures: number;
  lockMs: number;
}

export interface FailOptions {
  /** Failures allowed before locking, for these keys (e.g. higher for an IP many people share). */
  freeAttempts?: number;
}

export interface BruteForceGuard {
  /** The configured number of failures allowed before the first lockout. */
  readonly freeAttempts: number;
  /** Milliseconds the most locked of these keys stays locked; 0 when none is. */
  check(keys: readonly string[]): Promise<number>;
  /** Counts a failure for every key; returns the keys whose lockout (re)started now. */
  fail(keys: readonly string[], options?: FailOptions): Promise<LockStarted[]>;
  succeed(keys: readonly string[]): Promise<void>;
}

type Policy = RateLimitSettings['bruteForce'];

function lockFor(failures: number, p: Policy): number {
  if (failures <= p.freeAttempts) return 0;
  return Math.min(p.maxLockoutMs, p.baseLockoutMs * 2 ** Math.min(failures - p.freeAttempts - 1, 30));
}

function createMemoryGuard(p: Policy, clock: () => number = Date.now): BruteForceGuard {
  const failures = new Map<string, { n: number; expires: number }>();
  const locks = new Map<string, number>();
  const sweep = setInterval(() => {
    const now = clock();
    for (const [k, v] of failures) if (v.expires <= now) failures.delete(k);
    for (const [k, until] of locks) if (until <= now) locks.delete(k);
  }, 30_000);
  sweep.unref();
  return {
    freeAttempts: p.freeAttempts,
    async check(keys) {
      const now = clock();
      return Math.max(0, ...keys.map((k) => (locks.get(k) ?? 0) - now));
    },
    async fail(keys, options) {
      const policy = { ...p, freeAttempts: options?.freeAttempts ?? p.freeAttempts };
      const now = clock();
      const started: LockStarted[] = [];
      for (const key of keys) {
        const prev = failures.get(key);
        const n = prev && prev.expires > now ? prev.n + 1 : 1;
        failures.set(key, { n, expires: now + p.windowMs });
        const ms = lockFor(n, policy);
        if (ms > 0) {
          locks.set(key, now + ms);
          started.push({ key, failures: n, lockMs: ms });
        }
      }
      return started;
    },
    async succeed(keys) {
      for (const key of keys) failures.delete(key);
    },
  };
}

// Counter and lock move together in one script, so two nodes counting the same key at once
// cannot both read n and both write n+1.
const FAIL_LUA = `
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local free = tonumber(ARGV[2])
if n <= free then return {n, 0} end
local ms = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ math.min(n - free - 1, 30))
redis.call('SET', KEYS[2], '1', 'PX', ms)
return {n, ms}
`;

type FailRedis = Redis & {
  vgBruteFail(counter: string, lock: string, windowMs: string, free: string, base: string, max: string): Promise<[number, number]>;
};

/** Redis-backed when `shared` is given (counters hold across nodes), per node otherwise or during an outage. */
export function createBruteForceGuard(p: Policy, shared?: { redis: Redis; health: RedisHealth; prefix: string }): BruteForceGuard {
  const local = createMemoryGuard(p);
  if (!shared) return local;
  const { redis, health, prefix } = shared;
  if (!('vgBruteFail' in redis)) redis.defineCommand('vgBruteFail', { numberOfKeys: 2, lua: FAIL_LUA });
  const r = redis as FailRedis;
  const counterKey = (k: string) => `${prefix}bf:n:${k}`;
  const lockKey = (k: string) => `${prefix}bf:lock:${k}`;

  async function remote<T>(fn: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    if (!health.usable()) {
      health.failed(new Error('not connected'));
      return fallback();
    }
    try {
      const result = await fn();
      health.succeeded();
      return result;
    } catch (err) {
      health.failed(err);
      return fallback();
    }
  }

  return {
    freeAttempts: p.freeAttempts,
    check: (keys) =>
      remote(
        async () => Math.max(0, ...(await Promise.all(keys.map((k) => redis.pttl(lockKey(k)))))),
        () => local.check(keys),
      ),
    fail: (keys, options) =>
      remote(
        async () => {
          const started: LockStarted[] = [];
          const free = options?.freeAttempts ?? p.freeAttempts;
          for (const key of keys) {
            const [n, ms] = await r.vgBruteFail(
              counterKey(key),
              lockKey(key),
              String(p.windowMs),
              String(free),
              String(p.baseLockoutMs),
              String(p.maxLockoutMs),
            );
            if (ms > 0) started.push({ key, failures: n, lockMs: ms });
          }
          return started;
        },
        () => local.fail(keys, options),
      ),
    succeed: (keys) =>
      remote(
        async () => void (await redis.del(...keys.map(counterKey))),
        () => local.succeed(keys),
      ),
  };
}
