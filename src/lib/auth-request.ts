// What the gateway hands to the token verifier: enough of the request to check sender constraints
// (a DPoP proof names the method and URL; a certificate-bound token needs the TLS peer certificate).
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { TLSSocket } from 'node:tls';

export interface AuthRequest {
  authorization: string | undefined;
  /** The `DPoP` header (RFC 9449 §4.1); an array when sent twice (refused). */
  dpop: string | string[] | undefined;
  method: string;
  /** Path and query of the request, as received. */
  url: string;
  /**
   * DER of the TLS client certificate of this connection, if any. A function: reading it builds
   * the certificate object, which only certificate-bound tokens need.
   */
  certificate: () => Buffer | undefined;
  ip?: string;
  /** For the audit event of a refusal worth one (a decoy token). */
  requestId?: string;
}

/**
 * The DER of the client certificate on this connection (only when we terminate TLS). Over HTTP/1.1
 * `req.socket` is the TLSSocket; over HTTP/2 it is the compatibility layer's proxy, whose properties
 * and methods are those of the session's TLSSocket (and which throws once the session has gone).
 */
export function peerCertificate(req: IncomingMessage | Http2ServerRequest): Buffer | undefined {
  try {
    const socket = req.socket as Partial<TLSSocket>;
    if (socket.encrypted !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
    const cert = socket.getPeerCertificate(true);
    return cert && Buffer.isBuffer(cert.raw) && cert.raw.length > 0 ? cert.raw : undefined;
  } catch {
    return undefined; // ERR_HTTP2_SOCKET_UNBOUND: the connection is gone
  }
}
