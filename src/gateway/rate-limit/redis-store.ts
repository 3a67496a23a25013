// GCRA in Redis: one Lua script per decision, so the read of the TAT and its update are one
// atomic step on the server and every node sharing the Redis enforces one combined limit.
// The clock is Redis's own (TIME), so nodes with skewed clocks still agree. ioredis's
// defineCommand sends EVALSHA and falls back to EVAL when the script cache was flushed.
import type { Redis } from 'ioredis';
import type { Decision, LimiterStore } from './gcra.js';
import type { Limit } from './settings.js';

const GCRA_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, 0, math.ceil(allow_at - now), math.ceil(tat - now)}
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now))
return {1, math.floor((now - allow_at) / interval), 0, math.ceil(new_tat - now)}
`;

type GcraRedis = Redis & { vgGcra(key: string, interval: string, burst: string): Promise<[number, number, number, number]> };

export function createRedisStore(redis: Redis, prefix: string): LimiterStore {
  if (!('vgGcra' in redis)) redis.defineCommand('vgGcra', { numberOfKeys: 1, lua: GCRA_LUA });
  const r = redis as GcraRedis;
  return {
    async take(key: string, limit: Limit): Promise<Decision> {
      const [allowed, remaining, retryAfterMs, resetMs] = await r.vgGcra(
        `${prefix}rl:${key}`,
        String(limit.windowMs / limit.limit),
        String(limit.limit),
      );
      return { allowed: allowed === 1, remaining, retryAfterMs, resetMs };
    },
  };
}
