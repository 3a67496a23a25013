// tls_client_auth (RFC 8705 §2.1): the client certificate comes from our own TLS socket (the server
// terminates TLS and, with VAULTGATE_TLS_CLIENT_CA, requests client certificates). Behind a
// TLS-terminating proxy there is no certificate, so tls_client_auth clients cannot authenticate.
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

interface CtxLike {
  req: { socket: unknown };
}

// Over HTTP/2 `req.socket` is the compatibility layer's proxy: its properties and methods are the
// session's TLSSocket's, and reading it throws once the session has gone (no certificate then).
function tlsSocket(ctx: CtxLike): TLSSocket | undefined {
  try {
    const socket = ctx.req.socket as Partial<TLSSocket> | undefined;
    return socket?.encrypted === true ? (socket as TLSSocket) : undefined;
  } catch {
    return undefined;
  }
}

export function getCertificate(ctx: CtxLike): X509Certificate | undefined {
  return tlsSocket(ctx)?.getPeerX509Certificate() ?? undefined;
}

/** True only when Node verified the chain against VAULTGATE_TLS_CLIENT_CA. */
export function certificateAuthorized(ctx: CtxLike): boolean {
  return tlsSocket(ctx)?.authorized === true;
}

/** RDNs as `TYPE=value`, whatever the input order or separator; escaped commas are kept. */
function rdns(dn: string, separator: RegExp): string[] {
  return dn
    .split(separator)
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      if (eq <= 0) return part;
      return `${part.slice(0, eq).trim().toUpperCase()}=${part.slice(eq + 1).trim()}`;
    });
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Exact subject DN match; RFC 4514 strings list RDNs in reverse order, so both orders are accepted. */
export function certificateSubjectMatches(ctx: CtxLike, property: string, expected: string): boolean {
  if (property !== 'tls_client_auth_subject_dn') return false; // only the subject DN is registered
  const cert = getCertificate(ctx);
  if (!cert) return false;
  const actual = rdns(cert.subject, /\n/);
  const wanted = rdns(expected, /(?<!\\),/);
  return sameList(actual, wanted) || sameList(actual, [...wanted].reverse());
}
