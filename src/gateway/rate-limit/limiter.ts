// The limiter the gateway asks: Redis when configured (one combined limit across nodes), the
// in-process store otherwise. When Redis is unreachable a caller chooses: fail closed (money
// routes: better a 503 than unlimited money movement) or fall back to the per-node store (reads:
// the service stays up with limits that hold per node until Redis returns).
import type { Redis } from 'ioredis';
import type { Decision, LimiterStore } from './gcra.js';
import { createMemoryStore } from './memory-store.js';
import type { RedisHealth } from './redis-health.js';
import { createRedisStore } from './redis-store.js';
import type { Limit } from './settings.js';

export interface Limiter {
  /** undefined = the shared store is down and the caller asked to fail closed. */
  take(key: string, limit: Limit, options: { failClosed: boolean }): Promise<Decision | undefined>;
  close(): void;
}

export function createLimiter(shared?: { redis: Redis; health: RedisHealth; prefix: string }): Limiter {
  const local = createMemoryStore();
  const remote: LimiterStore | undefined = shared ? createRedisStore(shared.redis, shared.prefix) : undefined;
  return {
    async take(key, limit, { failClosed }) {
      if (!remote || !shared) return local.takeSync(key, limit);
      if (shared.health.usable()) {
        try {
          const decision = await remote.take(key, limit);
          shared.health.succeeded();
          return decision;
        } catch (err) {
          shared.health.failed(err);
        }
      } else {
        shared.health.failed(new Error('not connected'));
      }
      return failClosed ? undefined : local.takeSync(key, limit);
    },
    close: () => local.close(),
  };
}
