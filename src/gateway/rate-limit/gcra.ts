// GCRA, the generic cell rate algorithm (ITU-T I.371; what Stripe, Envoy and redis-cell use).
// Why GCRA rather than a fixed or sliding window: its whole state is one number per key (the
// theoretical arrival time, TAT), the decision is a single compare-and-set that Redis runs
// atomically in one Lua script, it is exact under concurrency (no window-edge double bursts, no
// read-then-write race), and Retry-After falls out of it: the time until the next cell conforms.
//
// A limit of L per window W gives an emission interval T = W / L and lets a burst of L through
// from an idle state; afterwards one request conforms every T.
import type { Limit } from './settings.js';

export interface Decision {
  allowed: boolean;
  /** Requests that would still conform right now (RateLimit `r`). */
  remaining: number;
  /** Milliseconds until the next request conforms (0 when allowed). */
  retryAfterMs: number;
  /** Milliseconds until the full quota is available again (RateLimit `t`). */
  resetMs: number;
}

/** One GCRA step: given the stored TAT (or undefined), the decision and the TAT to store. */
export function gcraStep(storedTat: number | undefined, now: number, limit: Limit): { decision: Decision; tat: number | undefined } {
  const interval = limit.windowMs / limit.limit;
  const tat = Math.max(storedTat ?? now, now);
  const newTat = tat + interval;
  const allowAt = newTat - limit.limit * interval;
  if (now < allowAt) {
    return {
      decision: { allowed: false, remaining: 0, retryAfterMs: Math.ceil(allowAt - now), resetMs: Math.ceil(tat - now) },
      tat: undefined,
    };
  }
  return {
    decision: { allowed: true, remaining: Math.floor((now - allowAt) / interval), retryAfterMs: 0, resetMs: Math.ceil(newTat - now) },
    tat: newTat,
  };
}

/** Where TATs live: process memory or Redis. `take` is one atomic step. */
export interface LimiterStore {
  take(key: string, limit: Limit): Promise<Decision>;
}
