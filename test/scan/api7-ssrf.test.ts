// API7:2023: a URL-typed field the server fetches, proven by the scan's own listener on
// 127.0.0.1 receiving the request; the twin stores the URL and fetches nothing.
import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../src/scan/checks/common.js';
import { startFixtureApi } from './fixture/server.js';
import { findingsWith, scan, summary } from './helpers.js';

describe('ssrf', () => {
  // @control OWASP-API7
  it('image_url fetched by the server: found', async () => {
    const findings = await findingsWith(['ssrf'], ['ssrf']);
    expect(findings.map(summary)).toEqual([{ check: 'ssrf', owasp: 'API7:2023', severity: 'high', method: 'POST', path: '/v1/notes' }]);
    expect(findings[0]?.evidence).toMatch(
      /image_url = a URL of the scan's own listener on 127\.0\.0\.1 → 201; the target then requested that URL$/,
    );
  });

  it('the twin: the URL is kept, never fetched; nothing found, one operation tested', async () => {
    const api = await startFixtureApi([]);
    try {
      const report = await scan(api, ['ssrf']);
      expect(report.findings).toEqual([]);
      expect(report.checks).toEqual([{ id: 'ssrf', owasp: 'API7:2023', operations_tested: 1 }]);
    } finally {
      await api.close();
    }
  });

  it('the callback listener is reachable only from this machine, so only loopback targets are probed', () => {
    expect(['127.0.0.1', 'localhost', '[::1]', '127.10.0.2'].map(isLoopbackHost)).toEqual([true, true, true, true]);
    expect(['10.0.0.1', 'api.example.com', '192.0.2.1', '127.0.0.1.example.com'].map(isLoopbackHost)).toEqual([false, false, false, false]);
  });
});
