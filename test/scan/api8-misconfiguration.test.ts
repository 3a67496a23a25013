// API8:2023: missing security headers (over HTTP and HTTPS), CORS reflecting origins with
// credentials, TRACE echoing requests, stack traces in errors, version banners.
import { describe, expect, it } from 'vitest';
import { startFixtureApi } from './fixture/server.js';
import { tlsFixture } from './fixture/tls.js';
import { findingsWith, scan, summary } from './helpers.js';

const CHECKS = ['security-headers', 'cors', 'trace-method', 'error-leaks', 'version-banners'];
const api8 = (check: string, severity: string, method: string, path: string) => ({ check, owasp: 'API8:2023', severity, method, path });

describe('misconfiguration', () => {
  it('security-headers over HTTP: nosniff missing everywhere, no CSP on the HTML page', async () => {
    const findings = await findingsWith(['no-headers'], ['security-headers']);
    expect(findings.map(summary)).toEqual([
      api8('security-headers', 'medium', 'GET', '/docs'),
      api8('security-headers', 'medium', 'POST', '/v1/folders'),
    ]);
    expect(findings[0]?.evidence).toBe('answers lack Content-Security-Policy on an HTML page (missing on 1 of the operations answered)');
    expect(findings[1]?.evidence).toMatch(/^answers lack X-Content-Type-Options: nosniff \(missing on 7 of the operations answered\)$/);
  });

  it('security-headers over HTTPS: HSTS missing too; the twin on HTTPS has it', async () => {
    const { options, ca } = await tlsFixture('twin');
    for (const [flaws, expected] of [
      [['no-headers'] as const, /Strict-Transport-Security \(missing on 7 of the operations answered\)/],
      [[] as const, undefined],
    ] as const) {
      const api = await startFixtureApi([...flaws], options);
      try {
        const report = await scan(api, ['security-headers'], { ca });
        if (expected) expect(report.findings.map((f) => f.evidence).join('\n')).toMatch(expected);
        else expect(report.findings).toEqual([]);
      } finally {
        await api.close();
      }
    }
  });

  it('cors: two origins of the scan reflected with credentials', async () => {
    const findings = await findingsWith(['cors-reflect'], ['cors']);
    expect(findings.map(summary)).toEqual([api8('cors', 'high', 'GET', '/v1/folders')]);
    expect(findings[0]?.evidence).toBe(
      'Origin: https://attacker.vaultgate-scan.invalid and then https://another.vaultgate-scan.invalid were both echoed in Access-Control-Allow-Origin with Access-Control-Allow-Credentials: true',
    );
  });

  it('trace-method: TRACE echoes the request', async () => {
    const findings = await findingsWith(['trace'], ['trace-method']);
    expect(findings.map(summary)).toEqual([api8('trace-method', 'low', 'TRACE', '/'), api8('trace-method', 'low', 'TRACE', '/v1/folders')]);
  });

  it('error-leaks: a malformed body answered with the JavaScript stack (twice before it is reported)', async () => {
    const findings = await findingsWith(['error-leak'], ['error-leaks']);
    expect(findings.map(summary)).toEqual([
      api8('error-leaks', 'medium', 'POST', '/v1/folders'),
      api8('error-leaks', 'medium', 'POST', '/v1/notes'),
      api8('error-leaks', 'medium', 'PUT', '/v1/notes/{id}'),
    ]);
    expect(findings[0]?.evidence).toMatch(
      /^POST \/v1\/folders with a malformed JSON body → 500 showing a JavaScript stack trace: ".*server\.ts:\d+:\d+/,
    );
  });

  it('version-banners: Server with a version and X-Powered-By', async () => {
    const findings = await findingsWith(['banner'], ['version-banners']);
    expect(findings.map(summary)).toEqual([api8('version-banners', 'low', 'POST', '/v1/folders')]);
    expect(findings[0]?.evidence).toBe('answers carry Server: FixtureHTTP/1.4.2; x-powered-by: Express');
  });

  it('the twin: nothing found', async () => {
    expect(await findingsWith([], CHECKS)).toEqual([]);
  });
});
