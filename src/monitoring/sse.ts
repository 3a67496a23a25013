// The live alert stream (Server-Sent Events). The gateway serializes JSON replies through
// schemas; a stream is not one, so the route hijacks the reply after authentication and
// authorization ran, and writes the raw response itself — with the same security headers every
// API answer carries. Heartbeat comments keep proxies from closing an idle stream.
// A client that reconnects with `Last-Event-ID` first gets the alerts it missed (from the
// database), then the live ones: it subscribes before reading the backlog and drops any alert
// sent twice, so nothing raised during the reconnect falls between the two.
//
// A stream outlives the request that opened it, so it is held to what a request is held to, for
// as long as it lasts: its token's standing is checked before every event, before every
// heartbeat and at least once a second (revocation of the token, its grant or its client, a
// scope or role change — read from the database, so it holds across nodes and for changes the
// CLI makes), a timer ends it at the token's exp, and it ends when the token no longer stands.
// Streams are counted apart from requests (they would hold the shedder's in-flight slots for
// ever): at most `perClient` per client (the route counts a signed-in person's streams per client
// and user) and `max` per node, a place taken when the stream is
// admitted (before anything is written), so streams opened all at once cannot overshoot.
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { rateLimitHeaders } from '../gateway/rate-limit/headers.js';
import type { Alert } from './alerts.js';

export interface StreamOptions {
  /** Whether this principal may see an alert (tenant isolation). */
  visible: (alert: Alert) => boolean;
  /** The visible alerts raised after the client's Last-Event-ID, oldest first (none on a first connect). */
  missed: () => Promise<Alert[]>;
  /** Streams of one token share one standing check per tick. */
  tokenHash: string;
  /** The token's exp (ms since the epoch): the stream ends then, whatever else happens. */
  expiresAtMs: number;
  /** Whether the token still stands and still carries the stream's permission. */
  stands: () => Promise<boolean>;
}

/** A place under the stream caps, taken by admit(); open() keeps it until the stream ends. */
export interface StreamSlot {
  readonly clientId: string;
  /** Gives the place back; idempotent (call it when the stream is not opened after all). */
  release(): void;
}

export interface StreamHub {
  /** Takes a place for a stream; throws 429 too_many_streams when the client (or the node) has none left. */
  admit(clientId: string): StreamSlot;
  open(request: FastifyRequest, reply: FastifyReply, slot: StreamSlot, options: StreamOptions): Promise<void>;
  /** Ends every open stream (shutdown: lets the server drain instead of waiting on them). */
  closeAll(): void;
  /** Open streams and places taken for streams about to open. */
  readonly size: number;
}

/** Why a stream ended: the first two are said on the stream too (the client should not retry with that token). */
type EndReason = 'revoked' | 'expired' | 'unverified' | 'client' | 'shutdown';
const CLOSED_EVENT: Partial<Record<EndReason, string>> = {
  revoked: 'event: closed\ndata: {"reason":"token_no_longer_valid"}\n\n',
  expired: 'event: closed\ndata: {"reason":"token_expired"}\n\n',
};
/** setTimeout's longest delay; a later exp is caught by the once-a-second check instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A check that has not answered by then counts as failed: a hung database must not stall the sweeps. */
const CHECK_TIMEOUT_MS = 5_000;

type Verdict = 'stands' | 'ended' | 'unverified';

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_ok, fail) => {
    timer = setTimeout(() => fail(new Error('standing check timed out')), ms);
    timer.unref();
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * One standing check per token at a time, shared by the streams (and events) of that token. A
 * check is reused only by those who asked after it started, so an alert raised after a
 * revocation is never let through by a check that read the database before it. `mark()` stamps
 * such a moment; stamps and check starts share one counter, so the order is exact.
 */
function createStandingChecks() {
  let clock = 0;
  const tokens = new Map<
    string,
    { streams: number; pending?: { seq: number; verdict: Promise<Verdict> }; last?: { seq: number; verdict: Verdict } }
  >();

  function run(hash: string, stands: () => Promise<boolean>): Promise<Verdict> {
    const seq = ++clock;
    const verdict = withTimeout(stands(), CHECK_TIMEOUT_MS).then(
      (ok): Verdict => (ok ? 'stands' : 'ended'),
      (): Verdict => 'unverified',
    );
    const entry = tokens.get(hash);
    if (entry) entry.pending = { seq, verdict };
    return verdict.then((v) => {
      const now = tokens.get(hash);
      if (now && (!now.last || now.last.seq < seq)) now.last = { seq, verdict: v };
      if (now?.pending?.seq === seq) delete now.pending;
      return v;
    });
  }

  return {
    mark: () => ++clock,
    join(hash: string): void {
      const entry = tokens.get(hash);
      if (entry) entry.streams++;
      else tokens.set(hash, { streams: 1 });
    },
    leave(hash: string): void {
      const entry = tokens.get(hash);
      if (entry && --entry.streams <= 0) tokens.delete(hash);
    },
    /** The token's standing as read by a check that started after the moment `after`. */
    check(hash: string, stands: () => Promise<boolean>, after: number): Promise<Verdict> {
      const entry = tokens.get(hash);
      if (entry?.last && entry.last.seq > after) return Promise.resolve(entry.last.verdict);
      if (entry?.pending && entry.pending.seq > after) return entry.pending.verdict;
      return run(hash, stands);
    },
  };
}

/** Per client and per node counts of open (and admitted) streams. */
function createCounts(limits: { perClient: number; max: number }) {
  const perClient = new Map<string, number>();
  let total = 0;
  return {
    get total() {
      return total;
    },
    take(clientId: string): StreamSlot {
      const held = perClient.get(clientId) ?? 0;
      if (total >= limits.max || held >= limits.perClient) {
        throw new AppError('too_many_streams', `At most ${limits.perClient} open alert streams per client`, { 'Retry-After': '5' });
      }
      perClient.set(clientId, held + 1);
      total++;
      let released = false;
      return {
        clientId,
        release() {
          if (released) return;
          released = true;
          total--;
          const left = (perClient.get(clientId) ?? 1) - 1;
          if (left <= 0) perClient.delete(clientId);
          else perClient.set(clientId, left);
        },
      };
    },
  };
}

function streamHeaders(request: FastifyRequest, reply: FastifyReply, hsts: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    'x-request-id': String(request.id),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-resource-policy': 'same-origin',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    'x-accel-buffering': 'no', // nginx: do not buffer the stream
    ...(hsts ? { 'strict-transport-security': 'max-age=63072000; includeSubDomains' } : {}),
  };
  // Headers set earlier in the pipeline go out too, and the rate-limit headers, which a
  // hijacked reply would otherwise miss (they are added when a reply is sent).
  for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined && !(k in headers)) headers[k] = String(v);
  if (request.rateLimits) Object.assign(headers, rateLimitHeaders(request.rateLimits));
  return headers;
}

/** The client went away (HTTP/1.1 socket or HTTP/2 stream), possibly before the stream opened. */
function gone(res: ServerResponse): boolean {
  const h2 = (res as ServerResponse & { stream?: { destroyed: boolean } }).stream;
  return res.writableEnded || (h2 ? h2.destroyed : res.destroyed);
}

function parseAlert(message: string): Alert | undefined {
  try {
    return JSON.parse(message) as Alert;
  } catch {
    return undefined;
  }
}

interface OpenStream {
  options: StreamOptions;
  end(reason: EndReason): void;
  heartbeat(): void;
}

export function createStreamHub(deps: {
  subscribe(listener: (message: string) => void): () => void;
  heartbeatMs: number;
  hsts: boolean;
  limits: { perClient: number; max: number };
  /** How often every stream's standing is checked (1 s: "within a second" of a revocation). */
  checkMs?: number;
}): StreamHub {
  const open = new Set<OpenStream>();
  const counts = createCounts(deps.limits);
  const checks = createStandingChecks();
  const checkMs = deps.checkMs ?? 1_000;

  /** The verdict for one stream: ended at exp without asking, otherwise its token's standing. */
  async function verdictOf(stream: OpenStream, after: number): Promise<Verdict | 'expired'> {
    if (Date.now() >= stream.options.expiresAtMs) return 'expired';
    return checks.check(stream.options.tokenHash, stream.options.stands, after);
  }
  const endFor = { ended: 'revoked', expired: 'expired', unverified: 'unverified' } as const;

  // One timer for the hub, running only while streams are open. A sweep that is still waiting on
  // the database when the next tick comes is not doubled (a slow database must not pile up checks).
  let lastHeartbeat = Date.now();
  let sweeping = false;
  async function sweep(): Promise<void> {
    const after = checks.mark();
    const beat = Date.now() - lastHeartbeat >= deps.heartbeatMs;
    if (beat) lastHeartbeat = Date.now();
    await Promise.all(
      [...open].map(async (stream) => {
        const verdict = await verdictOf(stream, after);
        if (verdict !== 'stands') stream.end(endFor[verdict]);
        else if (beat) stream.heartbeat();
      }),
    );
  }
  let ticker: NodeJS.Timeout | undefined;
  function tick(): void {
    if (sweeping) return;
    sweeping = true;
    void sweep().finally(() => {
      sweeping = false;
    });
  }
  function track(stream: OpenStream): void {
    open.add(stream);
    checks.join(stream.options.tokenHash);
    if (!ticker) {
      lastHeartbeat = Date.now();
      ticker = setInterval(tick, checkMs);
      ticker.unref();
    }
  }
  function untrack(stream: OpenStream): void {
    if (!open.delete(stream)) return;
    checks.leave(stream.options.tokenHash);
    if (open.size === 0 && ticker) {
      clearInterval(ticker);
      ticker = undefined;
    }
  }

  /** Writes the stream's head; false when the client is already gone. */
  function startResponse(request: FastifyRequest, reply: FastifyReply, res: ServerResponse): boolean {
    if (gone(res)) return false;
    try {
      res.writeHead(200, streamHeaders(request, reply, deps.hsts));
      res.write(`retry: 5000\n: connected\n\n`);
      return true;
    } catch {
      return false; // an HTTP/2 stream reset between the check and the write
    }
  }

  return {
    admit: (clientId) => counts.take(clientId),

    async open(request, reply, slot, options) {
      const { visible, missed } = options;
      const started = Date.now();
      reply.hijack();
      const res = reply.raw;
      if (!startResponse(request, reply, res)) {
        // The client left while the request was still on its way here: nothing to stream to.
        slot.release();
        request.admission?.release();
        return;
      }
      // Open: from here the stream counts as a stream, not as a request in flight.
      request.admission?.release();

      const write = (alert: Alert, message: string) => res.write(`id: ${alert.id}\nevent: alert\ndata: ${message}\n\n`);
      // Each event waits for a standing check that started after it arrived; the queue keeps
      // the events in order meanwhile.
      let queue = Promise.resolve();
      const send = (alert: Alert, message: string) => {
        const arrived = checks.mark();
        queue = queue.then(async () => {
          if (ended) return;
          const verdict = await verdictOf(stream, arrived);
          if (verdict !== 'stands') return stream.end(endFor[verdict]);
          if (!ended) write(alert, message);
        });
      };
      // Live alerts wait in `held` until the backlog is out, so the stream stays in id order.
      let held: Array<[Alert, string]> | undefined = [];
      let ended = false;
      const unsubscribe = deps.subscribe((message) => {
        const alert = parseAlert(message);
        if (!alert || !visible(alert)) return;
        if (held) held.push([alert, message]);
        else send(alert, message);
      });
      const untilExp = options.expiresAtMs - Date.now();
      const expiry = untilExp <= MAX_TIMER_MS ? setTimeout(() => stream.end('expired'), Math.max(0, untilExp)) : undefined;
      expiry?.unref();
      const stream: OpenStream = {
        options,
        heartbeat: () => {
          if (gone(res)) stream.end('client');
          else res.write(': ping\n\n');
        },
        end(reason) {
          if (ended) return;
          ended = true;
          if (expiry) clearTimeout(expiry);
          unsubscribe();
          untrack(stream);
          slot.release();
          // Said once, so a client knows not to reconnect with the same token.
          const closed = CLOSED_EVENT[reason];
          if (closed && !gone(res)) res.write(closed);
          if (!res.writableEnded) res.end();
          // A hijacked reply skips the gateway's onResponse: its one log line (which says why the
          // stream ended; never the token) is written here.
          const p = request.principal;
          request.log.info(
            {
              req_id: request.id,
              method: request.method,
              route: request.routeOptions.url,
              status: 200,
              ms: Date.now() - started,
              tenant: p?.tenantId,
              client: p?.clientId,
              ip: request.clientIp,
              stream: true,
              ended: reason,
            },
            'request',
          );
        },
      };
      track(stream);
      res.on('close', () => stream.end('client'));
      res.on('error', () => stream.end('client'));
      // Gone between the head and here: its 'close' may already have been emitted.
      if (gone(res)) return stream.end('client');

      const backlog = new Set<string>();
      try {
        for (const alert of await missed()) {
          if (ended) return;
          backlog.add(alert.id);
          send(alert, JSON.stringify(alert));
        }
      } catch (err) {
        // The live stream still works; the client can page through GET /v1/alerts for the gap.
        request.log.warn({ event: 'alert.backlog_failed', error: (err as Error)?.name }, 'alert backlog unavailable');
        if (!ended) res.write(': backlog unavailable\n\n');
      }
      // An alert raised while the backlog was read may be in both: send it once.
      for (const [alert, message] of held) if (!ended && !backlog.has(alert.id)) send(alert, message);
      held = undefined;
    },
    closeAll() {
      for (const stream of [...open]) stream.end('shutdown');
    },
    get size() {
      return counts.total;
    },
  };
}
