// The `rate_limits` section of VAULTGATE_CONFIG, parsed strictly: every key is known, every
// number is a positive integer, and a mistake stops the start with one line naming the key.
// Missing parts take the defaults below, sized for a real partner integration (hundreds of
// requests per minute per client), so an unconfigured platform never throttles honest traffic.
import { ConfigError } from '../../errors.js';

export const ROUTE_CLASSES = ['public', 'read', 'write', 'money', 'admin'] as const;
export type RouteClass = (typeof ROUTE_CLASSES)[number];

/** `limit` requests per `windowMs`, all of which may arrive in one burst. */
export interface Limit {
  limit: number;
  windowMs: number;
}

export type Tier = Readonly<Record<RouteClass, Limit>>;

export interface VelocityRule {
  scope: 'account' | 'tenant';
  /** Upper-case ISO 4217; undefined = the rule applies to every currency, each counted apart. */
  currency: string | undefined;
  /** Restricts the rule to one tenant; undefined = every tenant. */
  tenant: string | undefined;
  maxAmountPerHour: bigint | undefined;
  maxAmountPerDay: bigint | undefined;
  maxTransfersPerMinute: number | undefined;
}

export interface RateLimitSettings {
  /** Per client IP, before authentication (also in front of /oauth/*). */
  ip: Limit;
  tiers: Readonly<Record<string, Tier>>;
  /** client id → tier name; a client not listed gets `default`. */
  clients: Readonly<Record<string, string>>;
  /** Per-client in-flight cap per route class, with a bounded wait queue in front of it. */
  concurrency: Readonly<Partial<Record<RouteClass, { max: number; queue: number }>>>;
  /**
   * The process-wide in-flight cap (and event-loop delay) protects the process; the shares keep
   * one address, one HTTP/2 connection or one client from taking all of it (fairness before
   * capacity). An HTTP/2 response that makes no write progress for `stallMs` is reset.
   */
  shedding: {
    maxInFlight: number;
    maxEventLoopDelayMs: number;
    retryAfterSeconds: number;
    perAddress: number;
    perSession: number;
    perClient: number;
    stallMs: number;
  };
  /** Long-lived streams (SSE), counted apart from requests: per client and in all. */
  streams: { perClient: number; max: number };
  /** Open connections: in all (server.maxConnections) and per client address. */
  connections: { max: number; perAddress: number };
  bruteForce: { freeAttempts: number; baseLockoutMs: number; maxLockoutMs: number; windowMs: number };
  timeouts: { headersMs: number; requestMs: number; keepAliveMs: number };
  velocity: readonly VelocityRule[];
  /** Prefix of every Redis key, so several deployments (or test runs) can share one Redis. */
  redisKeyPrefix: string;
}

const MINUTE = 60_000;

function tier(factor: number): Tier {
  return {
    public: { limit: 300 * factor, windowMs: MINUTE },
    read: { limit: 1200 * factor, windowMs: MINUTE },
    write: { limit: 600 * factor, windowMs: MINUTE },
    money: { limit: 600 * factor, windowMs: MINUTE },
    admin: { limit: 120 * factor, windowMs: MINUTE },
  };
}

export const DEFAULT_RATE_LIMITS: RateLimitSettings = {
  // One IP may front many clients (NAT, a partner's egress proxy): generous, it stops floods only.
  ip: { limit: 6000, windowMs: MINUTE },
  tiers: { default: tier(1), partner: tier(5), internal: tier(20) },
  clients: {},
  concurrency: { money: { max: 16, queue: 256 } },
  shedding: {
    maxInFlight: 2000,
    maxEventLoopDelayMs: 1000,
    retryAfterSeconds: 2,
    perAddress: 256,
    perSession: 64,
    perClient: 256,
    stallMs: 10_000,
  },
  streams: { perClient: 5, max: 1000 },
  connections: { max: 4096, perAddress: 256 },
  bruteForce: { freeAttempts: 5, baseLockoutMs: 1000, maxLockoutMs: 15 * MINUTE, windowMs: 15 * MINUTE },
  timeouts: { headersMs: 15_000, requestMs: 30_000, keepAliveMs: 5_000 },
  velocity: [],
  redisKeyPrefix: 'vaultgate:',
};

const KEY = 'VAULTGATE_CONFIG';

function fail(where: string, why: string): never {
  throw new ConfigError(`${KEY}: rate_limits.${where}: ${why}`);
}

function mapping(value: unknown, where: string, allowed: readonly string[] | undefined): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(where, 'must be a mapping');
  if (allowed) {
    for (const k of Object.keys(value)) {
      if (!allowed.includes(k)) fail(where === '' ? k : `${where}.${k}`, `unknown key (allowed: ${allowed.join(', ')})`);
    }
  }
  return value as Record<string, unknown>;
}

function positiveInt(value: unknown, where: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) fail(where, `must be an integer 1..${max}`);
  return value;
}

function limitOf(value: unknown, where: string): Limit {
  const m = mapping(value, where, ['limit', 'window_seconds']);
  if (m.limit === undefined || m.window_seconds === undefined) fail(where, 'needs limit and window_seconds');
  return {
    limit: positiveInt(m.limit, `${where}.limit`, 1e9),
    windowMs: positiveInt(m.window_seconds, `${where}.window_seconds`, 86_400) * 1000,
  };
}

/** An optional positive integer of a mapping: its value, or `fallback` when absent. */
function intOr(m: Record<string, unknown>, key: string, where: string, fallback: number, max: number): number {
  return m[key] === undefined ? fallback : positiveInt(m[key], `${where}.${key}`, max);
}

function seconds(m: Record<string, unknown>, key: string, where: string, fallback: number): number {
  return m[key] === undefined ? fallback : positiveInt(m[key], `${where}.${key}`, 86_400) * 1000;
}

function parseVelocity(value: unknown): VelocityRule[] {
  if (!Array.isArray(value)) fail('velocity', 'must be a list of rules');
  return value.map((raw, i) => {
    const where = `velocity[${i}]`;
    const m = mapping(raw, where, ['scope', 'currency', 'tenant', 'max_amount_per_hour', 'max_amount_per_day', 'max_transfers_per_minute']);
    if (m.scope !== 'account' && m.scope !== 'tenant') fail(`${where}.scope`, 'must be account or tenant');
    if (m.currency !== undefined && (typeof m.currency !== 'string' || !/^[A-Z]{3}$/.test(m.currency))) {
      fail(`${where}.currency`, 'must be an upper-case ISO 4217 code');
    }
    if (m.tenant !== undefined && (typeof m.tenant !== 'string' || !/^ten_[A-Za-z0-9]+$/.test(m.tenant))) {
      fail(`${where}.tenant`, 'must be a tenant id (ten_…)');
    }
    const amount = (k: string) => (m[k] === undefined ? undefined : BigInt(positiveInt(m[k], `${where}.${k}`)));
    const rule: VelocityRule = {
      scope: m.scope,
      currency: m.currency,
      tenant: m.tenant,
      maxAmountPerHour: amount('max_amount_per_hour'),
      maxAmountPerDay: amount('max_amount_per_day'),
      maxTransfersPerMinute:
        m.max_transfers_per_minute === undefined ? undefined : positiveInt(m.max_transfers_per_minute, `${where}.max_transfers_per_minute`),
    };
    if (rule.maxAmountPerHour === undefined && rule.maxAmountPerDay === undefined && rule.maxTransfersPerMinute === undefined) {
      fail(where, 'needs at least one of max_amount_per_hour, max_amount_per_day, max_transfers_per_minute');
    }
    return rule;
  });
}

export function parseRateLimits(raw: unknown): RateLimitSettings {
  if (raw === undefined || raw === null) return DEFAULT_RATE_LIMITS;
  const m = mapping(raw, '', [
    'ip',
    'tiers',
    'clients',
    'concurrency',
    'shedding',
    'streams',
    'connections',
    'brute_force',
    'timeouts',
    'velocity',
    'redis_key_prefix',
  ]);
  const d = DEFAULT_RATE_LIMITS;

  const tiers: Record<string, Tier> = { ...d.tiers };
  if (m.tiers !== undefined) {
    for (const [name, value] of Object.entries(mapping(m.tiers, 'tiers', undefined))) {
      if (!/^[a-z][a-z0-9_-]{0,31}$/.test(name)) fail(`tiers.${name}`, 'tier names are lower-case words');
      const classes = mapping(value, `tiers.${name}`, ROUTE_CLASSES);
      // A tier lists only what differs; the rest comes from the built-in tier of that name, or `default`.
      const base = { ...(d.tiers[name] ?? tiers.default ?? tier(1)) };
      for (const c of ROUTE_CLASSES) if (classes[c] !== undefined) base[c] = limitOf(classes[c], `tiers.${name}.${c}`);
      tiers[name] = base;
    }
  }

  const clients: Record<string, string> = {};
  if (m.clients !== undefined) {
    for (const [id, t] of Object.entries(mapping(m.clients, 'clients', undefined))) {
      if (typeof t !== 'string' || !tiers[t]) fail(`clients.${id}`, `names an unknown tier (known: ${Object.keys(tiers).join(', ')})`);
      clients[id] = t;
    }
  }

  const concurrency: Partial<Record<RouteClass, { max: number; queue: number }>> = { ...d.concurrency };
  if (m.concurrency !== undefined) {
    for (const [c, value] of Object.entries(mapping(m.concurrency, 'concurrency', ROUTE_CLASSES))) {
      const cm = mapping(value, `concurrency.${c}`, ['max', 'queue']);
      concurrency[c as RouteClass] = {
        max: positiveInt(cm.max, `concurrency.${c}.max`, 100_000),
        queue: cm.queue === undefined ? 0 : cm.queue === 0 ? 0 : positiveInt(cm.queue, `concurrency.${c}.queue`, 100_000),
      };
    }
  }

  let shedding = d.shedding;
  if (m.shedding !== undefined) {
    const s = mapping(m.shedding, 'shedding', [
      'max_in_flight',
      'max_event_loop_delay_ms',
      'retry_after_seconds',
      'per_address',
      'per_session',
      'per_client',
      'stall_seconds',
    ]);
    const int = (key: string, fallback: number, max: number) => intOr(s, key, 'shedding', fallback, max);
    shedding = {
      maxInFlight: int('max_in_flight', d.shedding.maxInFlight, 1e6),
      maxEventLoopDelayMs: int('max_event_loop_delay_ms', d.shedding.maxEventLoopDelayMs, 60_000),
      retryAfterSeconds: int('retry_after_seconds', d.shedding.retryAfterSeconds, 3600),
      perAddress: int('per_address', d.shedding.perAddress, 1e6),
      perSession: int('per_session', d.shedding.perSession, 1e6),
      perClient: int('per_client', d.shedding.perClient, 1e6),
      stallMs: seconds(s, 'stall_seconds', 'shedding', d.shedding.stallMs),
    };
  }

  let streams = d.streams;
  if (m.streams !== undefined) {
    const s = mapping(m.streams, 'streams', ['per_client', 'max']);
    streams = {
      perClient: intOr(s, 'per_client', 'streams', d.streams.perClient, 1000),
      max: intOr(s, 'max', 'streams', d.streams.max, 1e6),
    };
  }

  let connections = d.connections;
  if (m.connections !== undefined) {
    const c = mapping(m.connections, 'connections', ['max', 'per_address']);
    connections = {
      max: intOr(c, 'max', 'connections', d.connections.max, 1e6),
      perAddress: intOr(c, 'per_address', 'connections', d.connections.perAddress, 1e6),
    };
  }

  let bruteForce = d.bruteForce;
  if (m.brute_force !== undefined) {
    const b = mapping(m.brute_force, 'brute_force', ['free_attempts', 'base_lockout_seconds', 'max_lockout_seconds', 'window_seconds']);
    bruteForce = {
      freeAttempts:
        b.free_attempts === undefined ? d.bruteForce.freeAttempts : positiveInt(b.free_attempts, 'brute_force.free_attempts', 1000),
      baseLockoutMs: seconds(b, 'base_lockout_seconds', 'brute_force', d.bruteForce.baseLockoutMs),
      maxLockoutMs: seconds(b, 'max_lockout_seconds', 'brute_force', d.bruteForce.maxLockoutMs),
      windowMs: seconds(b, 'window_seconds', 'brute_force', d.bruteForce.windowMs),
    };
  }

  let timeouts = d.timeouts;
  if (m.timeouts !== undefined) {
    const t = mapping(m.timeouts, 'timeouts', ['headers_seconds', 'request_seconds', 'keep_alive_seconds']);
    timeouts = {
      headersMs: seconds(t, 'headers_seconds', 'timeouts', d.timeouts.headersMs),
      requestMs: seconds(t, 'request_seconds', 'timeouts', d.timeouts.requestMs),
      keepAliveMs: seconds(t, 'keep_alive_seconds', 'timeouts', d.timeouts.keepAliveMs),
    };
    // Node requires headersTimeout <= requestTimeout.
    if (timeouts.headersMs > timeouts.requestMs) fail('timeouts.headers_seconds', 'must not exceed request_seconds');
  }

  let redisKeyPrefix = d.redisKeyPrefix;
  if (m.redis_key_prefix !== undefined) {
    if (typeof m.redis_key_prefix !== 'string' || !/^[A-Za-z0-9:_-]{1,64}$/.test(m.redis_key_prefix)) {
      fail('redis_key_prefix', 'must be 1-64 characters of A-Z a-z 0-9 : _ -');
    }
    redisKeyPrefix = m.redis_key_prefix;
  }

  return Object.freeze({
    ip: m.ip === undefined ? d.ip : limitOf(m.ip, 'ip'),
    tiers: Object.freeze(tiers),
    clients: Object.freeze(clients),
    concurrency: Object.freeze(concurrency),
    shedding,
    streams,
    connections,
    bruteForce,
    timeouts,
    velocity: Object.freeze(m.velocity === undefined ? [] : parseVelocity(m.velocity)),
    redisKeyPrefix,
  });
}
