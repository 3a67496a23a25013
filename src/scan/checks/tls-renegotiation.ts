// API8:2023 Security misconfiguration, renegotiation. A client that may renegotiate a TLS 1.2
// session at will makes the server redo the expensive half of a handshake for free (a CPU
// exhaustion lever testssl.sh rates MEDIUM); TLS 1.3 has no renegotiation at all.
import type { Check } from '../context.js';
import { handshake, hostLabel, tlsEndpoint } from '../tls-probe.js';

export const tlsRenegotiation: Check = {
  id: 'tls-renegotiation',
  title: 'Client-initiated TLS renegotiation',
  owasp: 'API8:2023',
  severity: 'medium',
  remediation: 'Disable TLS renegotiation on the server (OpenSSL SSL_OP_NO_RENEGOTIATION; Node.js secureOptions), or serve TLS 1.3 only.',
  async run(ctx) {
    if (!tlsEndpoint(ctx.http)) return { tested: 0, note: 'not https' };
    const h = await handshake(ctx.http, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }, true);
    const socket = h.socket;
    if (!h.ok || !socket) return 1;
    // Counted as one more probe: it is a second handshake on the same connection.
    await ctx.http.take();
    const renegotiated = await new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), 5_000);
      socket.once('error', () => done(false));
      if (!socket.renegotiate({ rejectUnauthorized: false }, (err) => done(!err))) done(false);
    });
    socket.destroy();
    if (renegotiated)
      ctx.report({ method: 'TLS', path: hostLabel(ctx.http), evidence: 'a client-initiated renegotiation of a TLS 1.2 session succeeded' });
    return 1;
  },
};
