// The HTTP client to one upstream service: a keep-alive pool (undici), streaming both ways, the
// connect and total timeouts, and retries only where a retry cannot do a thing twice. It answers
// with the upstream's status, headers and body stream, or throws the gateway's own AppError
// (502 upstream_unreachable, 502 upstream_error for an answer that is not HTTP, 504
// upstream_timeout); the caller never sees a library message.
//
// The caller's own faults are told apart from the upstream's, so that a slow or oversized upload
// is never blamed on the service (nor counted by its circuit breaker): a body over the limit is
// 413 payload_too_large, a body that stops arriving 408 request_timeout, and a caller that goes
// away mid-body gets its own error back (not an AppError: nothing to answer, nothing to count).
import { Transform, type Readable } from 'node:stream';
import { errors, Pool } from 'undici';
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
  /**
   * How long the caller's body may go without a byte (while the upstream is ready for more)
   * before it is cut off with 408. Default: timeoutMs, at most BODY_IDLE_MS.
   */
  bodyIdleTimeoutMs?: number | undefined;
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

/**
 * Default cap of the caller's body idle time. The upstream's timeoutMs already bounds the whole
 * exchange; for an upstream allowed a long time (a report, an export) a caller that sends nothing
 * for this long is not uploading any more. It is the listener's stall guard for answers the
 * caller does not read (rate_limits.shedding.stall_seconds, 10 s by default), the other way round.
 */
export const BODY_IDLE_MS = 10_000;

type CallerFault = 'too_large' | 'stalled' | 'aborted';

class CallerBodyError extends Error {
  constructor(readonly fault: CallerFault) {
    super(`caller body ${fault}`);
  }
}

interface CallerBody {
  /** What undici reads: the caller's bytes, failed at the limit or when the caller stalls or goes. */
  stream: Transform;
  count(): number;
  /** The caller's fault that failed the body, once it did. */
  fault(): CallerFault | undefined;
  /** The caller still owes bytes and nothing is waiting on the upstream side: we wait on the caller. */
  waitingOnCaller(): boolean;
  /** Fails the body as the caller's stall (the total timeout ran out while waiting on the caller). */
  stall(): void;
  /** The caller's own error when it went away mid-body (ECONNRESET "aborted"). */
  callerError(): unknown;
  /** The caller sent its whole body. */
  ended(): boolean;
}

/** Counts the caller's bytes, fails the stream at the limit, and when the caller stalls or goes away. */
function callerBody(body: Readable, limit: number, idleMs: number): CallerBody {
  let seen = 0;
  let ended = false;
  let fault: CallerFault | undefined;
  let callerError: unknown;
  const fail = (why: CallerFault) => {
    if (fault !== undefined || stream.destroyed) return;
    fault = why;
    clearTimeout(idle);
    stream.destroy(new CallerBodyError(why));
  };
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > limit) {
        fault = 'too_large';
        clearTimeout(idle);
        done(new CallerBodyError('too_large'));
      } else {
        idle.refresh();
        done(null, chunk);
      }
    },
  });
  // Bytes held here, or a paused reader, mean the upstream side is slow to take them: its
  // timeout, not the caller's.
  const upstreamBehind = () => stream.readableLength > 0 || stream.writableLength > 0 || stream.isPaused();
  const waitingOnCaller = () => !ended && fault === undefined && !stream.destroyed && !upstreamBehind();
  const idle: NodeJS.Timeout = setTimeout(function check() {
    if (waitingOnCaller()) fail('stalled');
    else if (!ended && !stream.destroyed) idle.refresh();
  }, idleMs);
  idle.unref();
  body.once('end', () => {
    ended = true;
    clearTimeout(idle);
  });
  body.once('error', (err) => {
    callerError = err;
    fail('aborted');
  });
  // A caller that closes without an error event (HTTP/2 stream reset) has gone away too.
  body.once('close', () => {
    if (!ended) {
      callerError ??= Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
      fail('aborted');
    }
  });
  stream.once('close', () => clearTimeout(idle));
  body.pipe(stream);
  return {
    stream,
    count: () => seen,
    fault: () => fault,
    waitingOnCaller,
    stall: () => fail('stalled'),
    callerError: () => callerError,
    ended: () => ended,
  };
}

/**
 * An answer given before the caller's body was read to its end closes the caller's HTTP/1.x
 * connection: the rest of that body is never read, and a keep-alive connection would otherwise
 * sit on it until the listener's requestTimeout. (HTTP/2 has no such header: the stream ends.)
 */
function closeAfter(body: Readable | undefined): Record<string, string> {
  return (body as { httpVersionMajor?: unknown } | undefined)?.httpVersionMajor === 1 ? { Connection: 'close' } : {};
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

  const idleMs = target.bodyIdleTimeoutMs ?? Math.min(target.timeoutMs, BODY_IDLE_MS);

  return {
    async send(request) {
      const declared = Number(request.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > request.bodyLimit)
        throw new AppError('payload_too_large', undefined, closeAfter(request.body));
      const caller = request.body ? callerBody(request.body, request.bodyLimit, idleMs) : undefined;
      const retryable = IDEMPOTENT.has(request.method) && caller === undefined;
      const attempts = retryable ? 1 + target.retries : 1;
      const controller = new AbortController();
      const timer = setTimeout(() => {
        // The whole exchange ran out while the caller still owed its body: the caller's delay.
        if (caller?.waitingOnCaller()) caller.stall();
        controller.abort();
      }, target.timeoutMs);
      timer.unref();

      // Why the request failed, as the caller is told; the caller's faults first, whatever the
      // library reports (undici fails the request with the body's error, or its own).
      const failure = (err: unknown): unknown => {
        const fault = caller?.fault();
        const close = closeAfter(request.body);
        if (fault === 'too_large') return new AppError('payload_too_large', undefined, close);
        if (fault === 'stalled') return new AppError('request_timeout', 'The request body stopped arriving', close);
        if (fault === 'aborted') return caller?.callerError();
        const headers = caller !== undefined && !caller.ended() ? close : {};
        const code = errorCode(err);
        if (controller.signal.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
          return new AppError('upstream_timeout', `The ${target.name} service did not answer in time`, headers);
        }
        // Reached, but what came back is not HTTP: the service is broken, not unreachable.
        if (err instanceof errors.HTTPParserError) {
          return new AppError('upstream_error', `The ${target.name} service sent a malformed response`, headers);
        }
        return new AppError('upstream_unreachable', `The ${target.name} service could not be reached`, headers);
      };

      for (let i = 1; ; i++) {
        try {
          const res = await attempt(request, caller?.stream, controller.signal);
          if (i < attempts && RETRY_STATUS.has(res.statusCode)) {
            await res.body.dump();
            continue;
          }
          // Past the headers the timer still bounds the whole answer: the body stream is cut.
          res.body.once('close', () => clearTimeout(timer));
          return { status: res.statusCode, headers: res.headers, body: res.body, bytesIn: () => caller?.count() ?? 0 };
        } catch (err) {
          const code = errorCode(err);
          if (i < attempts && !controller.signal.aborted && code !== undefined && CONNECT_ERRORS.has(code)) continue;
          clearTimeout(timer);
          throw failure(err);
        }
      }
    },
    close: () => pool.close(),
  };
}
