// The counters every limit of the node counts in: one Redis connection (when configured) shared by
// the rate limiter and the brute-force guard, so several nodes enforce one limit. Built once, first
// thing at start: the sign-in pages (identity) and the gateway's steps (traffic.ts) are handed the
// same guard and the same limiter.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuditLog } from '../../audit/types.js';
import { createRedis } from '../../storage/redis.js';
import { createBruteForceGuard, type BruteForceGuard } from './brute-force.js';
import { createLimiter, type Limiter } from './limiter.js';
import { createRedisHealth } from './redis-health.js';
import type { RateLimitSettings } from './settings.js';

export interface Counters {
  limiter: Limiter;
  /** Per account, per IP and per client id, for the sign-in pages and the client-authentication endpoints. */
  bruteForce: BruteForceGuard;
  /**
   * Resolves once Redis is connected, or after a short wait if it is not: a node that starts
   * serving before its first connection would count on its own and let extra requests through.
   * It never fails the start: an unreachable Redis is an outage handled like any other.
   */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export function createCounters(deps: {
  settings: RateLimitSettings;
  redisUrl: string | undefined;
  audit: AuditLog;
  logger: Logger;
  /** Whether the shared store answers (monitoring's vaultgate_rate_limit_store_up). */
  storeUp?: { set(value: number): void } | undefined;
}): Counters {
  let redis: Redis | undefined;
  let shared: Parameters<typeof createLimiter>[0];
  if (deps.redisUrl) {
    redis = createRedis(deps.redisUrl);
    shared = {
      redis,
      health: createRedisHealth(redis, { audit: deps.audit, logger: deps.logger, storeUp: deps.storeUp }),
      prefix: deps.settings.redisKeyPrefix,
    };
  }
  const limiter = createLimiter(shared);
  return {
    limiter,
    bruteForce: createBruteForceGuard(deps.settings.bruteForce, shared),
    async ready() {
      if (!redis || redis.status === 'ready') return;
      const r = redis;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          r.off('ready', done);
          resolve();
        };
        const timer = setTimeout(done, 3_000);
        r.once('ready', done);
      });
    },
    async close() {
      limiter.close();
      if (redis) {
        shared?.health.stop();
        await redis.quit().catch(() => redis?.disconnect());
      }
    },
  };
}
