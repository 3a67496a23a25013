// API8:2023, transport, natively with node:tls (what scripts/testssl.sh looks at): old
// protocol versions, weak TLS 1.2 suites, client-initiated renegotiation, a bad certificate. The
// twin is set up like vaultgate's listener and gives nothing.
import { describe, expect, it } from 'vitest';
import { startFixtureApi } from './fixture/server.js';
import { tlsFixture, type TlsVariant } from './fixture/tls.js';
import { scan } from './helpers.js';

const TLS_CHECKS = ['tls-protocols', 'tls-ciphers', 'tls-renegotiation', 'tls-certificate'];

async function tlsFindings(variant: TlsVariant) {
  const { options, ca } = await tlsFixture(variant);
  const api = await startFixtureApi([], options);
  try {
    const report = await scan(api, TLS_CHECKS, ca ? { ca } : {});
    const host = new URL(api.url).host;
    return { report, host };
  } finally {
    await api.close();
  }
}

describe('TLS', () => {
  it.each([
    ['old-protocols', 'tls-protocols', 'high', /^handshakes completed with TLS 1 \(.+\) and TLS 1\.1 \(.+\)$/],
    [
      'weak-ciphers',
      'tls-ciphers',
      'medium',
      /^TLS 1\.2 handshakes completed with no forward secrecy \(static RSA key exchange\): AES128-GCM-SHA256; not AEAD \(CBC with HMAC\): ECDHE-RSA-AES128-SHA$/,
    ],
    ['renegotiation', 'tls-renegotiation', 'medium', /^a client-initiated renegotiation of a TLS 1\.2 session succeeded$/],
    [
      'bad-certificate',
      'tls-certificate',
      'medium',
      /^the server certificate is not trusted \(.+\), expired on \d{4}-\d\d-\d\d, an RSA key of 1024 bits$/,
    ],
  ] as const)('%s: found by %s', async (variant, check, severity, evidence) => {
    const { report, host } = await tlsFindings(variant);
    const mine = report.findings.filter((f) => f.check === check);
    expect(mine.map((f) => ({ check: f.check, owasp: f.owasp, severity: f.severity, method: f.method, path: f.path }))).toEqual([
      { check, owasp: 'API8:2023', severity, method: 'TLS', path: host },
    ]);
    expect(mine[0]?.evidence).toMatch(evidence);
  });

  it('the twin (TLS 1.2+, ECDHE with AEAD, no renegotiation, a trusted EC certificate): nothing found', async () => {
    const { report } = await tlsFindings('twin');
    expect(report.findings).toEqual([]);
    expect(report.checks.map((c) => [c.id, c.operations_tested])).toEqual(TLS_CHECKS.map((id) => [id, 1]));
  });

  it('plain HTTP on loopback: the transport checks say why they test nothing', async () => {
    const api = await startFixtureApi([]);
    try {
      const report = await scan(api, TLS_CHECKS);
      expect(report.findings).toEqual([]);
      expect(report.checks.map((c) => [c.id, c.operations_tested, c.note])).toEqual([
        ['tls-protocols', 0, 'plain HTTP on this machine (a TLS-terminating proxy is expected in front)'],
        ['tls-ciphers', 0, 'not https'],
        ['tls-renegotiation', 0, 'not https'],
        ['tls-certificate', 0, 'not https'],
      ]);
    } finally {
      await api.close();
    }
  });
});
