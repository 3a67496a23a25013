// API8:2023 Security misconfiguration, TLS 1.2 cipher suites. Offering only the suites of one
// weak family at a time, the scan asks whether the target agrees to any: without forward secrecy
// (static RSA key exchange), without AEAD (CBC with HMAC), or broken outright (NULL, anonymous,
// export, RC4, DES, 3DES), as far as this OpenSSL can still offer them. RFC 9325 §4.2 allows none.
import { getCiphers } from 'node:tls';
import type { Check } from '../context.js';
import { handshake, hostLabel, tlsEndpoint } from '../tls-probe.js';

const FAMILIES: ReadonlyArray<{ what: string; pick(name: string): boolean }> = [
  { what: 'broken (NULL, anonymous, export, RC4, DES)', pick: (n) => /null|anon|adh|aecdh|exp|rc4|des|md5/.test(n) },
  {
    what: 'no forward secrecy (static RSA key exchange)',
    pick: (n) => !/^(ecdhe|dhe|tls_|psk|srp|rsa-psk|dhe-psk|ecdhe-psk)/.test(n) && !/null|anon|adh|aecdh|exp|rc4|des|md5/.test(n),
  },
  { what: 'not AEAD (CBC with HMAC)', pick: (n) => /^(ecdhe|dhe)-/.test(n) && !/gcm|chacha20|ccm|psk|null|des|rc4/.test(n) },
];

export const tlsCiphers: Check = {
  id: 'tls-ciphers',
  title: 'Weak TLS 1.2 cipher suites',
  owasp: 'API8:2023',
  severity: 'medium',
  remediation:
    'Allow in TLS 1.2 only ECDHE suites with AES-GCM or ChaCha20-Poly1305 (forward secrecy and AEAD, RFC 9325 §4.2); TLS 1.3 suites are all fine.',
  async run(ctx) {
    const endpoint = tlsEndpoint(ctx.http);
    if (!endpoint) return { tested: 0, note: 'not https' };
    const available = getCiphers();
    const accepted: string[] = [];
    for (const family of FAMILIES) {
      const suites = available.filter((n) => family.pick(n)).map((n) => n.toUpperCase());
      if (suites.length === 0) continue;
      const h = await handshake(ctx.http, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: `${suites.join(':')}:@SECLEVEL=0` });
      if (h.ok) accepted.push(`${family.what}: ${h.cipher ?? 'unknown'}`);
    }
    if (accepted.length > 0) {
      ctx.report({ method: 'TLS', path: hostLabel(ctx.http), evidence: `TLS 1.2 handshakes completed with ${accepted.join('; ')}` });
    }
    return 1;
  },
};
