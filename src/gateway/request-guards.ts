// Cheap checks on the raw request, before anything else looks at it.
import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's address, read when the request arrived (see app.ts). */
    clientIp: string;
  }
}

// RFC 3986 path characters (unreserved, %-escapes, sub-delims, ':', '@', '/'). Anything else in a
// request target (a '#', spaces, non-ASCII bytes) is a malformed request, and parsers disagree on
// it: the authorization server's router would strip or trim what the gateway's checks read.
const PATH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

export function checkRequestTarget(url: string): void {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (!path.startsWith('/') || !PATH.test(path) || (q !== -1 && url.includes('#', q))) {
    throw new AppError('invalid_request', 'The request target is malformed');
  }
}

/**
 * HTTP/1.1 requests are held to 16 KiB of headers by Node itself (431). HTTP/2 only advertises
 * its limit (SETTINGS_MAX_HEADER_LIST_SIZE) and accepts more, so it is enforced here, counted as
 * HTTP/2 does: name + value + 32 octets per field.
 */
export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * One pass over the raw header list: its size (HTTP/2, see above) and the request's authority. A
 * request with more than one Host is refused (RFC 9112 §3.2: 400), and so is an HTTP/2 request
 * whose Host disagrees with its :authority (RFC 9113 §8.3.1): Node keeps only one of them, and a
 * proxy in front may have routed by the other.
 */
export function checkHeaders(raw: IncomingMessage): void {
  const h = raw.rawHeaders;
  const http2 = raw.httpVersionMajor === 2;
  let bytes = 0;
  let hosts = 0;
  let host: string | undefined;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i] as string;
    const value = h[i + 1] as string;
    if (http2) bytes += name.length + value.length + 32;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      hosts++;
      host = value;
    }
  }
  if (bytes > MAX_HEADER_BYTES) throw new AppError('headers_too_large', `Request headers are limited to ${MAX_HEADER_BYTES} bytes`);
  if (hosts > 1) throw new AppError('invalid_request', 'The request has more than one Host header');
  if (http2 && host !== undefined) {
    const authority = raw.headers[':authority'];
    if (typeof authority === 'string' && authority.toLowerCase() !== host.toLowerCase()) {
      throw new AppError('invalid_request', 'The Host header disagrees with :authority');
    }
  }
}

/** A NUL character in a query value: no field takes one, and PostgreSQL text cannot store it. */
export function checkQuery(query: Record<string, unknown> | undefined): void {
  if (!query) return;
  for (const [name, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value];
    if (name.includes('\0') || values.some((v) => typeof v === 'string' && v.includes('\0'))) {
      throw new AppError('validation_failed', 'Query parameters must not contain NUL characters');
    }
  }
}

/**
 * HTTP/2 frames a body by END_STREAM and may omit Content-Length; body detection that looks only
 * for Content-Length or Transfer-Encoding (Fastify's, Koa's type-is) would see none. Marks a body
 * of unknown length as HTTP/1.1 does. The mark is hop-by-hop: it is never forwarded.
 */
export function markHttp2BodyOfUnknownLength(raw: IncomingMessage): void {
  const stream = (raw as IncomingMessage & { stream?: { endAfterHeaders?: boolean } }).stream;
  if (raw.httpVersionMajor === 2 && raw.headers['content-length'] === undefined && stream?.endAfterHeaders === false) {
    raw.headers['transfer-encoding'] = 'chunked';
  }
}
