// Tracks whether the shared Redis answers, so an outage is reported once (an alert-worthy audit
// event and one error log line), not once per request, and recovery is noticed and logged.
import { AUDIT_ACTIONS } from '../../audit/actions.js';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuditLog } from '../../audit/types.js';

export interface RedisHealth {
  /** True when commands can be sent now; false skips Redis at once (no waiting on timeouts). */
  usable(): boolean;
  failed(err: unknown): void;
  succeeded(): void;
  /** A deliberate shutdown is not an outage. */
  stop(): void;
}

const STARTUP_GRACE_MS = 5_000;

export function createRedisHealth(
  redis: Redis,
  deps: { audit: AuditLog; logger: Logger; /** 1 up, 0 down (a Prometheus gauge). */ storeUp?: { set(value: number): void } | undefined },
): RedisHealth {
  let down = false;
  let stopped = false;
  let everReady = false;
  const startedAt = Date.now();
  const markDown = (why: string) => {
    if (down || stopped) return;
    // The first connection may still be in progress at start: that is not an outage (yet).
    if (!everReady && Date.now() - startedAt < STARTUP_GRACE_MS) return;
    down = true;
    deps.storeUp?.set(0);
    deps.logger.error(
      { event: 'ratelimit.redis_unavailable', reason: why },
      'Redis unreachable: money routes fail closed, other limits run per node',
    );
    void deps.audit
      .record({ action: AUDIT_ACTIONS.rateLimitRedisUnavailable, outcome: 'failure', details: { reason: why } })
      .catch(() => undefined);
  };
  const markUp = () => {
    deps.storeUp?.set(1);
    if (!down) return;
    down = false;
    deps.logger.info({ event: 'ratelimit.redis_recovered' }, 'Redis reachable again: shared limits restored');
  };
  redis.on('ready', () => {
    everReady = true;
    markUp();
  });
  redis.on('end', () => markDown('connection_closed'));
  redis.on('close', () => markDown('connection_closed'));
  return {
    usable: () => redis.status === 'ready',
    // Only the error class goes out: ioredis messages may carry host names.
    failed: (err) => markDown((err as Error | undefined)?.name ?? 'Error'),
    succeeded: markUp,
    stop: () => {
      stopped = true;
    },
  };
}
