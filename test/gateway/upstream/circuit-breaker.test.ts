// The circuit breaker on a fake clock: opens after N consecutive failures, answers Retry-After
// while open, lets exactly one trial through when half-open, and ignores late outcomes.
import { describe, expect, it } from 'vitest';
import {
  createCircuitBreaker,
  type Admission,
  type BreakerPermit,
  type BreakerState,
} from '../../../src/gateway/upstream/circuit-breaker.js';

function setup(failures = 3, resetSeconds = 30) {
  let t = 1_000_000;
  const changes: BreakerState[] = [];
  const breaker = createCircuitBreaker({ failures, resetSeconds, now: () => t, onStateChange: (s) => changes.push(s) });
  return { breaker, changes, advance: (ms: number) => (t += ms) };
}

function admitted(a: Admission): BreakerPermit {
  if (!a.allowed) throw new Error(`refused, retry after ${a.retryAfterSeconds}s`);
  return a.permit;
}

function fail(breaker: ReturnType<typeof setup>['breaker'], times: number): void {
  for (let i = 0; i < times; i++) admitted(breaker.tryAcquire()).failure();
}

describe('circuit breaker', () => {
  it('opens after N consecutive failures, not before', () => {
    const { breaker, changes } = setup(3);
    fail(breaker, 2);
    expect(breaker.state()).toBe('closed');
    fail(breaker, 1);
    expect(breaker.state()).toBe('open');
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(changes).toEqual(['open']);
  });

  it('counts consecutive failures only: a success resets the count', () => {
    const { breaker } = setup(3);
    fail(breaker, 2);
    admitted(breaker.tryAcquire()).success();
    fail(breaker, 2);
    expect(breaker.state()).toBe('closed');
  });

  it('answers the seconds left while open, rounded up, never 0', () => {
    const { breaker, advance } = setup(1, 30);
    fail(breaker, 1);
    advance(10_500);
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAfterSeconds: 20 });
    advance(19_400);
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it('lets exactly one trial through when half-open; its success closes', () => {
    const { breaker, advance, changes } = setup(1, 30);
    fail(breaker, 1);
    advance(30_000);
    expect(breaker.state()).toBe('half_open');
    const trial = admitted(breaker.tryAcquire());
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAfterSeconds: 1 });
    trial.success();
    expect(breaker.state()).toBe('closed');
    expect(breaker.tryAcquire().allowed).toBe(true);
    expect(changes).toEqual(['open', 'half_open', 'closed']);
  });

  it('re-opens for a full period when the trial fails', () => {
    const { breaker, advance } = setup(2, 30);
    fail(breaker, 2);
    advance(31_000);
    admitted(breaker.tryAcquire()).failure();
    expect(breaker.state()).toBe('open');
    expect(breaker.tryAcquire()).toEqual({ allowed: false, retryAfterSeconds: 30 });
  });

  it('frees the trial slot when the trial is cancelled, staying half-open', () => {
    const { breaker, advance } = setup(1, 5);
    fail(breaker, 1);
    advance(5_000);
    admitted(breaker.tryAcquire()).cancel();
    expect(breaker.state()).toBe('half_open');
    admitted(breaker.tryAcquire()).success();
    expect(breaker.state()).toBe('closed');
  });

  it('ignores outcomes of requests admitted before the last transition, and a second outcome', () => {
    const { breaker, advance } = setup(2, 30);
    const slow = admitted(breaker.tryAcquire());
    fail(breaker, 2);
    expect(breaker.state()).toBe('open');
    slow.success(); // started while closed, ends while open: says nothing about now
    expect(breaker.state()).toBe('open');

    advance(30_000);
    const trial = admitted(breaker.tryAcquire());
    trial.success();
    trial.failure(); // settled already
    expect(breaker.state()).toBe('closed');
  });

  it('does not let a failure from before the outage re-open a breaker that has just closed', () => {
    const { breaker, advance } = setup(1, 30);
    const slow = admitted(breaker.tryAcquire());
    fail(breaker, 1);
    advance(30_000);
    admitted(breaker.tryAcquire()).success();
    slow.failure();
    expect(breaker.state()).toBe('closed');
  });
});
