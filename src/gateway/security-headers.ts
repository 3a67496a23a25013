// Response headers every answer carries (docs/contract.md §3).
import type { FastifyReply } from 'fastify';

const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const HSTS = 'max-age=63072000; includeSubDomains';

const COMMON: ReadonlyArray<readonly [string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['Referrer-Policy', 'no-referrer'],
  ['X-Frame-Options', 'DENY'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Cache-Control', 'no-store'],
  ['Content-Security-Policy', API_CSP],
];
// Built once: every response walks one of these two lists.
const WITH_HSTS = [['Strict-Transport-Security', HSTS] as const, ...COMMON];

/** The fixed headers of every answer; Cache-Control and CSP are defaults a page may replace. */
export function securityHeaderList(options: { hsts: boolean }): ReadonlyArray<readonly [string, string]> {
  return options.hsts ? WITH_HSTS : COMMON;
}

const REPLACEABLE = new Set(['Cache-Control', 'Content-Security-Policy']);

export function applySecurityHeaders(reply: FastifyReply, options: { hsts: boolean }): void {
  for (const [k, v] of securityHeaderList(options)) if (!REPLACEABLE.has(k) || !reply.hasHeader(k)) reply.header(k, v);
}

/**
 * The same headers on a raw Node response (requests handed to the authorization server), set
 * before it writes: its own Cache-Control and the sign-in pages' CSP replace the defaults.
 */
export function applyRawSecurityHeaders(res: import('node:http').ServerResponse, requestId: string, options: { hsts: boolean }): void {
  res.setHeader('X-Request-Id', requestId);
  for (const [k, v] of securityHeaderList(options)) res.setHeader(k, v);
}
