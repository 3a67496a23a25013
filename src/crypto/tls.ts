// The HTTPS listener: TLS 1.3 preferred, TLS 1.2 only with AEAD + forward-secrecy suites, no
// compression, no renegotiation; optional client certificates (mTLS); certificate and key reloaded
// without a restart (file change or SIGHUP) through setSecureContext.
//
// HTTP/2: not enabled. The listener is node:https because the shutdown path (closeIdleConnections,
// request/header timeouts) and oidc-provider's and mtls.ts's use of `req.socket` as a TLSSocket rely
// on the HTTP/1.1 objects; http2's compat layer hands out a socket proxy instead. ALPN therefore
// offers http/1.1 only. See README "Data protection".
import { constants } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { ensureDevCertificate } from './dev-certificate.js';

// TLS 1.2 suites: ECDHE (forward secrecy) + AEAD (GCM, ChaCha20-Poly1305) only. TLS 1.3 suites are
// all AEAD + FS; OpenSSL's default 1.3 list is kept.
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

// No renegotiation at all (RFC 5746 attacks, client-initiated reneg DoS) and no TLS compression
// (CRIME); the server's suite order wins so a 1.2 client gets the strongest suite it supports.
const SECURE_OPTIONS =
  constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_COMPRESSION | constants.SSL_OP_CIPHER_SERVER_PREFERENCE;

export interface Listener {
  server: http.Server;
  tls: boolean;
  /** Re-reads certificate and key; new handshakes use them, open connections keep theirs. */
  reload(): Promise<void>;
  /** Hands requests to `handler`; until then they get 503 (the server listens before the app is built). */
  serve(handler: http.RequestListener): void;
  /** Stops watching files and signals. */
  stop(): void;
}

/** A request that arrives between listen() and serve() gets 503 with Retry-After instead of hanging. */
function notReady(server: http.Server): (handler: http.RequestListener) => void {
  const early: http.RequestListener = (_req, res) => {
    res.writeHead(503, { 'retry-after': '1', 'content-type': 'application/problem+json', connection: 'close' });
    res.end('{"type":"https://vaultgate.dev/problems/service-unavailable","title":"Service unavailable","status":503,"code":"service_unavailable"}');
  };
  server.on('request', early);
  return (handler) => {
    server.off('request', early);
    server.on('request', handler);
  };
}

async function secureContextOptions(files: { certFile: string; keyFile: string }) {
  return { cert: await readFile(files.certFile), key: await readFile(files.keyFile) };
}

export async function createListener(config: Readonly<Config>, logger: Logger, options: { handleSignals?: boolean } = {}): Promise<Listener> {
  if (config.insecureHttp) {
    logger.warn('VAULTGATE_INSECURE_HTTP=1: serving plain HTTP; run this only behind a TLS-terminating proxy');
    const server = http.createServer();
    return { server, tls: false, reload: async () => undefined, serve: notReady(server), stop: () => undefined };
  }
  const files =
    config.tls.certFile && config.tls.keyFile
      ? { certFile: config.tls.certFile, keyFile: config.tls.keyFile }
      : await ensureDevCertificate(config.dataDir);
  const clientCa = config.tls.clientCaFile ? await readFile(config.tls.clientCaFile) : undefined;
  // One definition for the first context and every reloaded one.
  const policy = {
    minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', ciphers: TLS12_CIPHERS, honorCipherOrder: true,
    secureOptions: SECURE_OPTIONS, ecdhCurve: 'X25519:P-256:P-384', ...(clientCa ? { ca: clientCa } : {}),
  } as const;
  const server = https.createServer({
    ...(await secureContextOptions(files)),
    ...policy,
    ALPNProtocols: ['http/1.1'],
    // A client that opens a TCP connection and never finishes the handshake is dropped after 10 s
    // (Node's default is 120 s: a cheap way to hold sockets).
    handshakeTimeout: 10_000,
    // mTLS: certificates are requested and verified against VAULTGATE_TLS_CLIENT_CA. A connection
    // without one is let through (discovery, health checks and bearer-token clients need no
    // certificate; tls_client_auth and certificate-bound tokens refuse it above TLS), but a
    // certificate that fails verification closes the connection below.
    ...(clientCa ? { requestCert: true, rejectUnauthorized: false } : {}),
  });
  if (clientCa) {
    server.on('secureConnection', (socket: TLSSocket) => {
      if (!socket.authorized && socket.getPeerCertificate() && Object.keys(socket.getPeerCertificate()).length > 0) {
        logger.warn({ reason: socket.authorizationError ? String(socket.authorizationError) : 'unverified' }, 'tls: client certificate refused');
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
    server, tls: true, reload, serve: notReady(server),
    stop() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
      process.off('SIGHUP', onHup);
    },
  };
}
