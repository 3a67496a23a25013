// TLS handshakes with node:tls for the transport checks (what scripts/testssl.sh looks at, done
// natively): one handshake per question, each taking one unit of the request budget. OpenSSL's
// security level is lowered on the client side only, so that the client can *offer* what a
// server must refuse; nothing is sent over these connections but the handshake.
import { connect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { ScanHttp } from './http.js';

export interface Handshake {
  ok: boolean;
  protocol?: string | undefined;
  cipher?: string | undefined;
  authorized?: boolean | undefined;
  authorizationError?: string | undefined;
  certificate?: PeerCertificate | undefined;
  error?: string | undefined;
  /** The open socket, when the caller asked to keep it (renegotiation). */
  socket?: TLSSocket | undefined;
}

/** `host:port` of the target, as transport findings name it. */
export const hostLabel = (http: ScanHttp): string => new URL(http.origin).host;

export function tlsEndpoint(http: ScanHttp): { host: string; port: number; servername: string | undefined } | undefined {
  const url = new URL(http.origin);
  if (url.protocol !== 'https:') return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // SNI takes names only, never an address (RFC 6066 §3).
  const servername = /^[\d.]+$|:/.test(host) ? undefined : host;
  return { host, port: Number(url.port || 443), servername };
}

export async function handshake(http: ScanHttp, options: ConnectionOptions, keep = false): Promise<Handshake> {
  const endpoint = tlsEndpoint(http);
  if (!endpoint) return { ok: false, error: 'not https' };
  await http.take();
  const ca = http.ca();
  return new Promise<Handshake>((resolve) => {
    let socket: TLSSocket;
    try {
      socket = connect({
        host: endpoint.host,
        port: endpoint.port,
        ...(endpoint.servername ? { servername: endpoint.servername } : {}),
        rejectUnauthorized: false,
        ...(ca ? { ca } : {}),
        ALPNProtocols: ['http/1.1'],
        ...options,
      });
    } catch (err) {
      // This OpenSSL cannot offer what was asked (no suite of the list is compiled in).
      resolve({ ok: false, error: (err as NodeJS.ErrnoException).code ?? 'unsupported' });
      return;
    }
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, error: 'timeout' });
    }, 10_000);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const result: Handshake = {
        ok: true,
        protocol: socket.getProtocol() ?? undefined,
        cipher: socket.getCipher()?.name,
        authorized: socket.authorized,
        authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
        certificate: socket.getPeerCertificate(),
      };
      if (keep) resolve({ ...result, socket });
      else {
        socket.destroy();
        resolve(result);
      }
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok: false, error: err.code ?? err.message });
    });
  });
}
