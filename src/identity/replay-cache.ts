// "Seen before?" for DPoP proof `jti`s (RFC 9449 §11.1). One atomic operation per check: in memory
// on a single node; with REDIS_URL, `SET key 1 NX PX ttl` in Redis so every node shares it (a
// read-then-write would let two nodes accept the same proof).
import { createRedis } from '../storage/redis.js';

export interface ReplayCache {
  /** True the first time `key` is seen within `ttlMs`; false for a replay. */
  firstUse(key: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

const MAX_ENTRIES = 200_000;

export function createMemoryReplayCache(now: () => number = Date.now): ReplayCache {
  const seen = new Map<string, number>();
  let lastSweep = now();
  return {
    async firstUse(key, ttlMs) {
      const t = now();
      if (t - lastSweep > 10_000 || seen.size > MAX_ENTRIES) {
        lastSweep = t;
        for (const [k, exp] of seen) if (exp <= t) seen.delete(k);
      }
      const exp = seen.get(key);
      if (exp !== undefined && exp > t) return false;
      // Full of live entries: refusing is the safe answer (a proof may be retried with a new jti).
      if (seen.size > MAX_ENTRIES) return false;
      seen.set(key, t + ttlMs);
      return true;
    },
    async close() {
      seen.clear();
    },
  };
}

export function createRedisReplayCache(url: string, prefix = 'vg:dpop:'): ReplayCache {
  // Failures surface as refused requests below (fail closed), never as crashes.
  const redis = createRedis(url);
  return {
    async firstUse(key, ttlMs) {
      // If Redis is unreachable this throws: the caller refuses the request (fail closed).
      const ok = await redis.set(`${prefix}${key}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
      return ok === 'OK';
    },
    async close() {
      redis.disconnect();
    },
  };
}
