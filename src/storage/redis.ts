// One way to open Redis for the whole platform. The options make a Redis outage fast and
// visible instead of slow and silent: commands fail at once while disconnected (no offline
// queue piling up requests in memory), a command gets one retry at most and a short timeout,
// and the client reconnects forever with capped backoff, so recovery needs no restart.
import { Redis } from 'ioredis';

export interface RedisOptions {
  /** Per-command timeout; a hung Redis must not hang the request path. */
  commandTimeoutMs?: number;
  onError?(err: Error): void;
}

export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: options.commandTimeoutMs ?? 500,
    // 50 ms, 100 ms, … capped at 2 s; never gives up (returning null would stop reconnecting).
    retryStrategy: (times) => Math.min(times * 50, 2_000),
    // A failover promotes a replica; reconnect when the node we talk to turned read-only.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
    lazyConnect: false,
  });
  // Without a listener ioredis logs unhandled 'error' events; the caller decides what to record.
  redis.on('error', (err: Error) => options.onError?.(err));
  return redis;
}
