// RateLimit-Policy and RateLimit response fields (IETF httpapi ratelimit-headers draft, §3 and
// §4: Structured Field lists of named policies; `q` quota, `w` window in seconds, `r` remaining
// quota, `t` seconds until the quota is fully restored). One item per policy that applied.
import type { Decision } from './gcra.js';
import type { Limit } from './settings.js';

export interface AppliedPolicy {
  /** A Structured Field string: letters, digits, '.', '-', '_' only (no quoting needed). */
  name: string;
  limit: Limit;
  decision: Decision;
}

export function rateLimitHeaders(applied: readonly AppliedPolicy[]): Record<string, string> {
  if (applied.length === 0) return {};
  const policy = applied.map((p) => `"${p.name}";q=${p.limit.limit};w=${Math.ceil(p.limit.windowMs / 1000)}`).join(', ');
  const state = applied.map((p) => `"${p.name}";r=${p.decision.remaining};t=${Math.ceil(p.decision.resetMs / 1000)}`).join(', ');
  return { 'RateLimit-Policy': policy, RateLimit: state };
}

/** RFC 9110 §10.2.3: whole seconds; never 0, or a client would retry in a tight loop. */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}
