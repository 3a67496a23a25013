// Response headers every answer carries (CONTRACT §3).
import type { FastifyReply } from 'fastify';

const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function applySecurityHeaders(reply: FastifyReply, options: { hsts: boolean }): void {
  if (options.hsts) reply.header('Strict-Transport-Security', 'max-age=63072000; includeSubDomains');
  reply.header('X-Content-Type-Options', 'nosniff');
  reply.header('Referrer-Policy', 'no-referrer');
  reply.header('X-Frame-Options', 'DENY');
  reply.header('Cross-Origin-Resource-Policy', 'same-origin');
  if (!reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
  if (!reply.hasHeader('Content-Security-Policy')) reply.header('Content-Security-Policy', API_CSP);
}

/** The same headers on a raw Node response (requests handed to the authorization server). */
export function applyRawSecurityHeaders(res: import('node:http').ServerResponse, requestId: string, options: { hsts: boolean }): void {
  res.setHeader('X-Request-Id', requestId);
  if (options.hsts) res.setHeader('Strict-Transport-Security', 'max-age=63072000; includeSubDomains');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
}
