// API8:2023 Security misconfiguration, the server certificate. It must be trusted (by the system
// store, or by the CA the scan was given, such as the platform's development certificate),
// valid today, for the name the target is reached by, and carry a key of a sound size.
import type { Check } from '../context.js';
import { handshake, hostLabel, tlsEndpoint } from '../tls-probe.js';

export const tlsCertificate: Check = {
  id: 'tls-certificate',
  title: 'Untrusted, expired or weak server certificate',
  owasp: 'API8:2023',
  severity: 'medium',
  remediation:
    "Serve a certificate from a trusted CA for the API's host name, renew it before it expires (automate with ACME), and use an EC P-256 or RSA 2048-bit or larger key.",
  async run(ctx) {
    if (!tlsEndpoint(ctx.http)) return { tested: 0, note: 'not https' };
    // The lowest security level, so that a key too small for OpenSSL's default is seen, not refused.
    const h = await handshake(ctx.http, { ciphers: 'DEFAULT@SECLEVEL=0' });
    const cert = h.certificate;
    if (!h.ok || !cert || Object.keys(cert).length === 0) return 1;
    const problems: string[] = [];
    if (h.authorized === false) problems.push(`not trusted (${h.authorizationError ?? 'unknown reason'})`);
    const now = Date.now();
    if (Date.parse(cert.valid_to) < now) problems.push(`expired on ${new Date(cert.valid_to).toISOString().slice(0, 10)}`);
    if (Date.parse(cert.valid_from) > now) problems.push(`not valid before ${new Date(cert.valid_from).toISOString().slice(0, 10)}`);
    if (cert.bits !== undefined && cert.asn1Curve === undefined && cert.nistCurve === undefined && cert.bits < 2048) {
      problems.push(`an RSA key of ${cert.bits} bits`);
    }
    if (problems.length > 0)
      ctx.report({ method: 'TLS', path: hostLabel(ctx.http), evidence: `the server certificate is ${problems.join(', ')}` });
    return 1;
  },
};
