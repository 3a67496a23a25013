// One circuit breaker per upstream: after `failures` consecutive failures the upstream is left
// alone for `resetSeconds` (callers get 503 upstream_unavailable + Retry-After at once instead of
// piling up on timeouts), then exactly one trial request probes it. What counts as a failure
// (connection error, timeout, 502/503/504…) is the caller's decision, not the breaker's.
//
// Every admitted request holds a permit and must settle it exactly once (success, failure, or
// cancel when the outcome says nothing about the upstream, e.g. the caller went away): the
// half-open trial slot is only freed by its permit.

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerPermit {
  success(): void;
  failure(): void;
  /** Neither outcome: a half-open trial slot is given back, nothing else changes. */
  cancel(): void;
}

export type Admission = { allowed: true; permit: BreakerPermit } | { allowed: false; retryAfterSeconds: number };

export interface CircuitBreaker {
  state(): BreakerState;
  tryAcquire(): Admission;
}

export interface BreakerOptions {
  failures: number;
  resetSeconds: number;
  now?: () => number;
  /** Called on every transition (metrics gauge, log line). */
  onStateChange?: (state: BreakerState) => void;
}

export function createCircuitBreaker(options: BreakerOptions): CircuitBreaker {
  const now = options.now ?? Date.now;
  const resetMs = options.resetSeconds * 1000;
  let current: BreakerState = 'closed';
  let consecutiveFailures = 0;
  let openedAt = 0;
  let trialInFlight = false;
  // Bumped on every transition: an outcome that arrives after the state it was admitted in has
  // passed (a slow request of the closed period finishing while open) no longer counts.
  let generation = 0;

  function moveTo(next: BreakerState): void {
    current = next;
    generation++;
    consecutiveFailures = 0;
    trialInFlight = false;
    if (next === 'open') openedAt = now();
    options.onStateChange?.(next);
  }

  // Open → half-open happens lazily, when someone looks after the reset time has passed.
  function refresh(): BreakerState {
    if (current === 'open' && now() - openedAt >= resetMs) moveTo('half_open');
    return current;
  }

  function permit(): BreakerPermit {
    const admittedIn = generation;
    const trial = current === 'half_open';
    let settled = false;
    const settle = (outcome: 'success' | 'failure' | 'cancel') => {
      if (settled) return;
      settled = true;
      if (admittedIn !== generation) return;
      if (trial) {
        if (outcome === 'success') moveTo('closed');
        else if (outcome === 'failure') moveTo('open');
        else trialInFlight = false;
        return;
      }
      if (outcome === 'success') consecutiveFailures = 0;
      else if (outcome === 'failure' && ++consecutiveFailures >= options.failures) moveTo('open');
    };
    return { success: () => settle('success'), failure: () => settle('failure'), cancel: () => settle('cancel') };
  }

  return {
    state: refresh,
    tryAcquire() {
      switch (refresh()) {
        case 'closed':
          return { allowed: true, permit: permit() };
        case 'half_open':
          if (trialInFlight) return { allowed: false, retryAfterSeconds: 1 };
          trialInFlight = true;
          return { allowed: true, permit: permit() };
        case 'open':
          return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((openedAt + resetMs - now()) / 1000)) };
      }
    },
  };
}
