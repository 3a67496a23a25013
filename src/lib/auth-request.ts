// What the gateway hands to the token verifier: enough of the request to check sender constraints
// (a DPoP proof names the method and URL; a certificate-bound token needs the TLS peer certificate).
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface AuthRequest {
  authorization: string | undefined;
  /** The `DPoP` header (RFC 9449 §4.1); an array when sent twice (refused). */
  dpop: string | string[] | undefined;
  method: string;
  /** Path and query of the request, as received. */
  url: string;
  /** DER of the TLS client certificate of this connection, if any. */
  certificate: Buffer | undefined;
  ip?: string;
}

/** The DER of the client certificate on this connection (only when we terminate TLS). */
export function peerCertificate(req: IncomingMessage): Buffer | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.encrypted !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
  const cert = socket.getPeerCertificate(true);
  return cert && Buffer.isBuffer(cert.raw) && cert.raw.length > 0 ? cert.raw : undefined;
}
