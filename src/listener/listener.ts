// The HTTPS listener: TLS 1.3 preferred, TLS 1.2 only with AEAD + forward-secrecy suites, no
// compression, no renegotiation; optional client certificates (mTLS); certificate and key reloaded
// without a restart (file change or SIGHUP) through setSecureContext.
//
// HTTP/2 through ALPN: the listener is `http2.createSecureServer({ allowHTTP1: true })`, ALPN offers
// `h2` then `http/1.1`. HTTP/1.1 connections go to Node's HTTP/1.1 connection handling (same
// parser, headersTimeout/requestTimeout/keepAliveTimeout, set below). HTTP/2 sessions get the
// equivalent here (guardSession): the first request's headers within headersTimeout, each request
// received within requestTimeout, an idle session closed after keepAliveTimeout; plus flood limits
// and a reset for responses the peer never lets us write (connections.ts). The TLS policy itself
// (versions, suites, options) is crypto/tls-policy.ts.
// The compatibility API hands out Http2ServerRequest/Response; their `socket` is a proxy whose
// properties (encrypted, authorized, getPeerCertificate, remoteAddress) are the TLS socket's, which
// is what mtls.ts and auth-request.ts read. Shutdown (close) sends GOAWAY to every session.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import type { Server, Socket } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { ensureDevCertificate } from '../crypto/dev-certificate.js';
import { SECURE_OPTIONS, TLS12_CIPHERS } from '../crypto/tls-policy.js';
import { clientErrorHandler } from '../gateway/framework-errors.js';
import { limitConnections, resetStalledStreams } from './connections.js';

/** HTTP/2 flood limits (rapid streams, header bombs, unbounded buffering per session). */
export const HTTP2_LIMITS = {
  maxConcurrentStreams: 100,
  /** Decoded header list size, the same 16 KiB HTTP/1.1 allows (Node's maxHeaderSize). */
  maxHeaderListSize: 16 * 1024,
  maxHeaderListPairs: 128,
  /** MB of buffered data per session before new streams are refused (ENHANCE_YOUR_CALM). */
  maxSessionMemory: 10,
} as const;

type Timeouts = Config['rateLimits']['timeouts'];
type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;
type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

export interface Listener {
  /** node:http2 secure server (HTTP/2 and HTTP/1.1), or node:http with VAULTGATE_INSECURE_HTTP. */
  server: Server;
  tls: boolean;
  /** Re-reads certificate and key; new handshakes use them, open connections keep theirs. */
  reload(): Promise<void>;
  /** Hands requests to `handler`; until then they get 503 (the server listens before the app is built). */
  serve(handler: http.RequestListener): void;
  /** Stops watching files and signals. */
  stop(): void;
  /**
   * Graceful shutdown: stops accepting, closes idle HTTP/1.1 connections and sends GOAWAY to every
   * HTTP/2 session at once; in-flight requests may finish within `graceMs`, then every remaining
   * connection is destroyed. Resolves when the server has closed.
   */
  close(graceMs: number): Promise<void>;
}

/** A request that arrives between listen() and serve() gets 503 with Retry-After instead of hanging. */
function notReady(server: Server): (handler: http.RequestListener) => void {
  const early = (req: AnyRequest, res: AnyResponse) => {
    // `Connection` is a hop-by-hop header HTTP/2 forbids (RFC 9113 §8.2.2).
    const headers: Record<string, string> = { 'retry-after': '1', 'content-type': 'application/problem+json' };
    if (req.httpVersionMajor < 2) headers.connection = 'close';
    res.writeHead(503, headers);
    res.end(
      '{"type":"https://vaultgate.dev/problems/service-unavailable","title":"Service unavailable","status":503,"code":"service_unavailable"}',
    );
  };
  server.on('request', early);
  return (handler) => {
    server.off('request', early);
    server.on('request', handler);
  };
}

/** HTTP/1.1 slowloris limits; Node enforces them on HTTP/1.1 connections of the http2 server too. */
function applyHttp1Timeouts(server: Server, timeouts: Timeouts): void {
  const s = server as Server & {
    headersTimeout: number;
    requestTimeout: number;
    keepAliveTimeout: number;
    connectionsCheckingInterval: number;
    requireHostHeader: boolean;
  };
  // A request must deliver its headers within headersTimeout and complete within requestTimeout,
  // and an idle keep-alive socket is closed after keepAliveTimeout. Node enforces the first two on
  // a sweep every connectionsCheckingInterval (30 s by default, which would let a slow client hold
  // a socket for up to 45 s): check every second instead (read when the server starts listening).
  s.requestTimeout = timeouts.requestMs;
  s.headersTimeout = timeouts.headersMs;
  s.keepAliveTimeout = timeouts.keepAliveMs;
  s.connectionsCheckingInterval = 1_000;
  // http.Server's default, which the http2 server's HTTP/1.1 fallback does not set on every Node.
  s.requireHostHeader = true;
}

/**
 * The HTTP/1.1 timeouts' equivalent for one HTTP/2 session: until its first request's headers are
 * complete it may last headersTimeout; whenever it has no open stream it is closed after
 * keepAliveTimeout (a timer that frames without a complete request do not reset, so trickled
 * HEADERS/CONTINUATION frames cannot hold it); a request whose body is not received within
 * requestTimeout is cancelled.
 */
function guardSession(session: http2.ServerHttp2Session, timeouts: Timeouts): void {
  let open = 0;
  let idle: NodeJS.Timeout | undefined;
  const arm = (ms: number) => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      if (open > 0 || session.closed || session.destroyed) return;
      session.close();
      // A peer that ignores GOAWAY is cut off.
      setTimeout(() => session.destroy(), 1_000).unref();
    }, ms);
    idle.unref();
  };
  arm(timeouts.headersMs);
  session.on('stream', (stream) => {
    open++;
    clearTimeout(idle);
    const request = setTimeout(() => {
      const state = stream.destroyed ? undefined : stream.state.state;
      const received =
        state === http2.constants.NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE || state === http2.constants.NGHTTP2_STREAM_STATE_CLOSED;
      if (state !== undefined && !received) stream.close(http2.constants.NGHTTP2_CANCEL);
    }, timeouts.requestMs);
    request.unref();
    stream.once('close', () => {
      clearTimeout(request);
      open--;
      if (open === 0 && !session.closed && !session.destroyed) arm(timeouts.keepAliveMs);
    });
  });
  session.once('close', () => clearTimeout(idle));
}

/** Connection and session bookkeeping for close(). */
function tracker(server: Server) {
  const sockets = new Set<Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('connection', (socket: Socket) => {
    // No Nagle: an answer written in pieces (headers, then a streamed body) would otherwise wait
    // for the peer's delayed ACK (~40 ms) between them. http.Server does this by itself; the
    // HTTP/2 secure server (which also carries our HTTP/1.1) does not.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  return (graceMs: number) =>
    new Promise<void>((resolve) => {
      let done = false;
      server.close(() => {
        done = true;
        clearTimeout(forced);
        resolve();
      });
      // HTTP/1.1: idle keep-alive sockets now, busy ones after their response (server.close() does
      // this itself on recent Node; calling it again is harmless).
      (server as Server & { closeIdleConnections?: () => void }).closeIdleConnections?.();
      // HTTP/2: GOAWAY; open streams finish, then each session ends.
      for (const session of sessions) session.close();
      const forced = setTimeout(() => {
        if (done) return;
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      forced.unref();
    });
}

async function secureContextOptions(files: { certFile: string; keyFile: string }) {
  return { cert: await readFile(files.certFile), key: await readFile(files.keyFile) };
}

export async function createListener(
  config: Readonly<Config>,
  logger: Logger,
  options: { handleSignals?: boolean } = {},
): Promise<Listener> {
  const timeouts = config.rateLimits.timeouts;
  if (config.insecureHttp) {
    logger.warn('VAULTGATE_INSECURE_HTTP=1: serving plain HTTP; run this only behind a TLS-terminating proxy');
    const server = http.createServer();
    applyHttp1Timeouts(server, timeouts);
    server.on('clientError', clientErrorHandler({ hsts: false }));
    // Behind the TLS-terminating proxy every connection comes from the proxy: no per-address cap.
    limitConnections(server, { max: config.rateLimits.connections.max, perAddress: undefined }, logger);
    return { server, tls: false, reload: async () => undefined, serve: notReady(server), stop: () => undefined, close: tracker(server) };
  }
  const files =
    config.tls.certFile && config.tls.keyFile
      ? { certFile: config.tls.certFile, keyFile: config.tls.keyFile }
      : await ensureDevCertificate(config.dataDir);
  const clientCa = config.tls.clientCaFile ? await readFile(config.tls.clientCaFile) : undefined;
  // One definition for the first context and every reloaded one.
  const policy = {
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
    secureOptions: SECURE_OPTIONS,
    ecdhCurve: 'X25519:P-256:P-384',
    ...(clientCa ? { ca: clientCa } : {}),
  } as const;
  const server = http2.createSecureServer({
    ...(await secureContextOptions(files)),
    ...policy,
    // HTTP/2 preferred, HTTP/1.1 for every client that does not offer h2 (or offers no ALPN).
    allowHTTP1: true,
    ALPNProtocols: ['h2', 'http/1.1'],
    // A client that opens a TCP connection and never finishes the handshake is dropped after 10 s
    // (Node's default is 120 s: a cheap way to hold sockets).
    handshakeTimeout: 10_000,
    // mTLS: certificates are requested and verified against VAULTGATE_TLS_CLIENT_CA. A connection
    // without one is let through (discovery, health checks and bearer-token clients need no
    // certificate; tls_client_auth and certificate-bound tokens refuse it above TLS), but a
    // certificate that fails verification closes the connection below.
    ...(clientCa ? { requestCert: true, rejectUnauthorized: false } : {}),
    maxSessionMemory: HTTP2_LIMITS.maxSessionMemory,
    maxHeaderListPairs: HTTP2_LIMITS.maxHeaderListPairs,
    // The server never pushes; this bounds the streams it would open towards the peer.
    peerMaxConcurrentStreams: HTTP2_LIMITS.maxConcurrentStreams,
    settings: {
      enablePush: false,
      maxConcurrentStreams: HTTP2_LIMITS.maxConcurrentStreams,
      maxHeaderListSize: HTTP2_LIMITS.maxHeaderListSize,
    },
  });
  // Node tracks HTTP/1.1 connections of an allowHTTP1 server (header/request timeouts, idle close)
  // since 20.12; before that it sets none of these properties and would ignore ours.
  if (!('headersTimeout' in server)) {
    logger.warn(
      'tls: this Node version does not enforce headersTimeout/requestTimeout on HTTP/1.1 connections of the HTTP/2 listener; use Node >= 20.12',
    );
  }
  applyHttp1Timeouts(server, timeouts);
  server.on('clientError', clientErrorHandler({ hsts: true }));
  limitConnections(server, config.rateLimits.connections, logger);
  const stopStallGuard = resetStalledStreams(server, config.rateLimits.shedding.stallMs);
  server.on('session', (session: http2.ServerHttp2Session) => {
    guardSession(session, timeouts);
  });
  if (clientCa) {
    server.on('secureConnection', (socket: TLSSocket) => {
      if (!socket.authorized && socket.getPeerCertificate() && Object.keys(socket.getPeerCertificate()).length > 0) {
        logger.warn(
          { reason: socket.authorizationError ? String(socket.authorizationError) : 'unverified' },
          'tls: client certificate refused',
        );
        socket.destroy();
      }
    });
  }
  let reloading: Promise<void> | undefined;
  const reload = () =>
    (reloading ??= (async () => {
      try {
        server.setSecureContext({ ...(await secureContextOptions(files)), ...policy });
        logger.info({ cert: files.certFile }, 'tls: certificate and key reloaded');
      } catch {
        // A half-written or mismatched pair: keep serving with the old context.
        logger.error({ cert: files.certFile }, 'tls: reload failed; still serving the previous certificate');
      } finally {
        reloading = undefined;
      }
    })());

  // Renewal tools (certbot, cert-manager) replace the files; the watch debounces their writes.
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const onChange = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), 200);
    timer.unref();
  };
  // Watch the directories, not the files: a renewal that renames a new file into place would
  // leave a file watch on the old inode.
  const names = new Map<string, Set<string>>();
  for (const file of [files.certFile, files.keyFile]) {
    const dir = path.dirname(file);
    names.set(dir, (names.get(dir) ?? new Set()).add(path.basename(file)));
  }
  for (const [dir, wanted] of names) {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || wanted.has(String(name))) onChange();
      });
      w.on('error', () => undefined);
      watchers.push(w);
    } catch {
      // Not watchable (some network file systems): SIGHUP still works.
    }
  }
  const onHup = () => void reload();
  if (options.handleSignals) process.on('SIGHUP', onHup);
  return {
    server,
    tls: true,
    reload,
    serve: notReady(server),
    close: tracker(server),
    stop() {
      clearTimeout(timer);
      stopStallGuard();
      for (const w of watchers) w.close();
      process.off('SIGHUP', onHup);
    },
  };
}
