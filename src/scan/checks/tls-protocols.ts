// API8:2023 Security misconfiguration, transport. The target must not complete a handshake in
// TLS 1.0 or 1.1 (RFC 8996); an API on plain HTTP off this machine has no transport security at
// all. (SSLv2 and SSLv3 cannot even be offered by Node's OpenSSL; testssl.sh covers them.)
import type { Check } from '../context.js';
import { handshake, hostLabel, tlsEndpoint } from '../tls-probe.js';
import { isLoopbackHost } from './common.js';

export const tlsProtocols: Check = {
  id: 'tls-protocols',
  title: 'Obsolete TLS versions or no TLS',
  owasp: 'API8:2023',
  severity: 'high',
  remediation: 'Serve HTTPS only, with TLS 1.3 and TLS 1.2 and nothing older (RFC 8996, RFC 9325).',
  async run(ctx) {
    const url = new URL(ctx.http.origin);
    const endpoint = tlsEndpoint(ctx.http);
    if (!endpoint) {
      if (isLoopbackHost(url.hostname))
        return { tested: 0, note: 'plain HTTP on this machine (a TLS-terminating proxy is expected in front)' };
      ctx.report({
        method: 'TLS',
        path: hostLabel(ctx.http),
        evidence: `${url.origin} is served over plain HTTP: tokens and data travel in clear`,
      });
      return 1;
    }
    const accepted: string[] = [];
    for (const version of ['TLSv1', 'TLSv1.1'] as const) {
      const h = await handshake(ctx.http, { minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' });
      if (h.ok) accepted.push(`${version.replace('v', ' ')} (${h.cipher ?? 'unknown suite'})`);
    }
    if (accepted.length > 0)
      ctx.report({ method: 'TLS', path: hostLabel(ctx.http), evidence: `handshakes completed with ${accepted.join(' and ')}` });
    return 1;
  },
};
