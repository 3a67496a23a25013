// The HTTP client to one upstream service: a keep-alive pool (undici), streaming both ways, the
// connect and total timeouts, and retries only where a retry cannot do a thing twice. It answers
// with the upstream's status, headers and body stream, or throws the gateway's own AppError
// (502 upstream_unreachable, 504 upstream_timeout, 413 payload_too_large); the caller never sees
// a library message.
import { Transform, type Readable } from 'node:stream';
import { Pool } from 'undici';
import { AppError } from '../../errors.js';

export interface UpstreamTarget {
  name: string;
  /** scheme://host:port */
  origin: string;
  /** Prefix of every upstream path ('' or '/base', no trailing slash). */
  basePath: string;
  /** The whole answer, headers and body; past it 504 (before the headers) or a cut stream (after). */
  timeoutMs: number;
  connectTimeoutMs: number;
  /** Extra attempts after a connection error or a 502/503/504, for requests without a body of idempotent methods. */
  retries: number;
  /** HTTPS: extra trusted CA and an optional client certificate (mTLS to the upstream). */
  tls?: { ca?: Buffer | undefined; cert?: Buffer | undefined; key?: Buffer | undefined } | undefined;
}

export interface UpstreamRequest {
  method: string;
  /** Path and query as the upstream sees them (already stripped of the route prefix), starting with '/'. */
  path: string;
  headers: Record<string, string | string[]>;
  /** The caller's body, streamed; undefined when there is none. */
  body: Readable | undefined;
  /** Bytes the body may have; more is cut off with 413 while streaming. */
  bodyLimit: number;
}

export interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** Bytes of the caller's body that were sent. */
  bytesIn(): number;
}

export interface UpstreamClient {
  send(request: UpstreamRequest): Promise<UpstreamAnswer>;
  close(): Promise<void>;
}

/** Methods whose repetition has no further effect (RFC 9110 §9.2.2); POST and PATCH are never retried. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const RETRY_STATUS = new Set([502, 503, 504]);
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
]);

class BodyTooLarge extends Error {}

/** Counts the caller's bytes and fails the stream at the limit (the upstream request fails with it). */
function limited(body: Readable, limit: number): { stream: Transform; count(): number } {
  let seen = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > limit) done(new BodyTooLarge());
      else done(null, chunk);
    },
  });
  body.on('error', (err) => stream.destroy(err));
  body.pipe(stream);
  return { stream, count: () => seen };
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  if (typeof e?.code === 'string') return e.code;
  return typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
}

export function createUpstreamClient(target: UpstreamTarget): UpstreamClient {
  const pool = new Pool(target.origin, {
    connections: 128,
    keepAliveTimeout: 4_000,
    headersTimeout: target.timeoutMs,
    bodyTimeout: target.timeoutMs,
    connect: {
      timeout: target.connectTimeoutMs,
      ...(target.tls?.ca ? { ca: target.tls.ca } : {}),
      ...(target.tls?.cert && target.tls.key ? { cert: target.tls.cert, key: target.tls.key } : {}),
    },
  });

  async function attempt(request: UpstreamRequest, body: Readable | undefined, signal: AbortSignal) {
    return pool.request({
      method: request.method,
      path: `${target.basePath}${request.path}`,
      headers: request.headers,
      body: body ?? null,
      signal,
      // The pool must not replay a request itself: whether to retry is decided below.
      idempotent: false,
    });
  }

  return {
    async send(request) {
      const declared = Number(request.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > request.bodyLimit) throw new AppError('payload_too_large');
      const counted = request.body ? limited(request.body, request.bodyLimit) : undefined;
      const retryable = IDEMPOTENT.has(request.method) && counted === undefined;
      const attempts = retryable ? 1 + target.retries : 1;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), target.timeoutMs);
      timer.unref();

      for (let i = 1; ; i++) {
        try {
          const res = await attempt(request, counted?.stream, controller.signal);
          if (i < attempts && RETRY_STATUS.has(res.statusCode)) {
            await res.body.dump();
            continue;
          }
          // Past the headers the timer still bounds the whole answer: the body stream is cut.
          res.body.once('close', () => clearTimeout(timer));
          return { status: res.statusCode, headers: res.headers, body: res.body, bytesIn: () => counted?.count() ?? 0 };
        } catch (err) {
          if (err instanceof BodyTooLarge || (err as { cause?: unknown }).cause instanceof BodyTooLarge) {
            clearTimeout(timer);
            throw new AppError('payload_too_large');
          }
          if (controller.signal.aborted) {
            clearTimeout(timer);
            throw new AppError('upstream_timeout', `The ${target.name} service did not answer in time`);
          }
          const code = errorCode(err);
          if (i < attempts && code !== undefined && CONNECT_ERRORS.has(code)) continue;
          clearTimeout(timer);
          if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
            throw new AppError('upstream_timeout', `The ${target.name} service did not answer in time`);
          }
          throw new AppError('upstream_unreachable', `The ${target.name} service could not be reached`);
        }
      }
    },
    close: () => pool.close(),
  };
}
