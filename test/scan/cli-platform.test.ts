// `vaultgate scan` of the running platform, on SQLite and on PostgreSQL: throwaway tenants and
// clients registered by the scan, tokens from the real token endpoint, probes from /openapi.json.
// The platform comes out clean (nothing at medium or above), every check says what it covered,
// no token or secret is printed, and every client the scan registered is revoked after.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHECKS } from '../../src/scan/engine.js';
import { atLeast, type ScanReport } from '../../src/scan/types.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { runCli } from '../support/cli.js';
import { describeEngines } from '../support/databases.js';

/** Checks with nothing to test on the platform today: no URL-typed field is reachable. */
const NOT_APPLICABLE = ['ssrf'];

describeEngines('vaultgate scan of the running platform', (engine) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(engine);
  });
  afterAll(() => s.close());

  // @control OWASP-API1, OWASP-API2, OWASP-API3, OWASP-API4, OWASP-API5, OWASP-API7, OWASP-API8, OWASP-API9
  it('exit 0, no finding at medium or above, every check run, nothing secret printed, its clients revoked', async () => {
    const res = await runCli(['scan', '--json'], {
      VAULTGATE_DATA_DIR: s.dataDir,
      DATABASE_URL: s.database.url,
      VAULTGATE_CONFIG: s.env.VAULTGATE_CONFIG as string,
      VAULTGATE_PUBLIC_URL: s.url,
    });
    expect([res.code, res.stderr]).toEqual([0, '']);
    const report = JSON.parse(res.stdout) as ScanReport;
    expect(report.target).toBe(s.url);
    expect(report.findings.filter((f) => atLeast(f.severity, 'medium'))).toEqual([]);
    expect(report.checks.map((c) => c.id)).toEqual(CHECKS.map((c) => c.id));
    expect(report.checks.filter((c) => c.operations_tested === 0).map((c) => c.id)).toEqual(NOT_APPLICABLE);
    expect(report.checks.filter((c) => c.note !== undefined)).toEqual([]);
    expect(report.requests_sent).toBeGreaterThan(100);

    // Nothing secret on stdout: no JWT, not the bootstrap admin's secret (the one secret we know).
    const bootstrap = JSON.parse(readFileSync(path.join(s.dataDir, 'bootstrap-admin.json'), 'utf8')) as { client_secret: string };
    expect(res.stdout).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(res.stdout.includes(bootstrap.client_secret)).toBe(false);

    const theirs = (await s.server.services.identity.clients.list()).filter((c) => /^scan-[0-9a-f]{10}-[ab]$/.test(c.tenant));
    expect(theirs.map((c) => c.status)).toEqual(['revoked', 'revoked', 'revoked', 'revoked']);
  });
});
