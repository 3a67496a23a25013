// The whole scan, every check of the table, against one fixture with a flaw of each OWASP
// category at once: each is found with its category; against the twin, nothing at all.
import { describe, expect, it } from 'vitest';
import { CHECKS } from '../../src/scan/engine.js';
import { startFixtureApi } from './fixture/server.js';
import type { Flaw } from './fixture/flaws.js';
import { scan } from './helpers.js';

const ONE_OF_EACH: Array<[Flaw, string, string]> = [
  ['bola-path', 'bola', 'API1:2023'],
  ['alg-none', 'broken-authentication', 'API2:2023'],
  ['mass-assignment', 'mass-assignment', 'API3:2023'],
  ['unbounded-page', 'page-size', 'API4:2023'],
  ['function-level', 'function-level-authz', 'API5:2023'],
  ['ssrf', 'ssrf', 'API7:2023'],
  ['cors-reflect', 'cors', 'API8:2023'],
  ['debug-endpoints', 'debug-endpoints', 'API9:2023'],
];

describe('a full scan', () => {
  it('finds one flaw of each category, each under its category', async () => {
    const api = await startFixtureApi(ONE_OF_EACH.map(([flaw]) => flaw));
    try {
      const report = await scan(
        api,
        CHECKS.map((c) => c.id),
      );
      const found = new Set(report.findings.map((f) => `${f.check} ${f.owasp}`));
      for (const [, check, owasp] of ONE_OF_EACH) expect(found).toContain(`${check} ${owasp}`);
      // Whatever else the flaws cause is still reported under its own check's category.
      for (const f of report.findings) expect(f.owasp).toBe(CHECKS.find((c) => c.id === f.check)?.owasp);
      expect(report.checks.map((c) => c.id)).toEqual(CHECKS.map((c) => c.id));
    } finally {
      await api.close();
    }
  });

  it('the twin: every check runs, nothing is found', async () => {
    const api = await startFixtureApi([]);
    try {
      const report = await scan(
        api,
        CHECKS.map((c) => c.id),
      );
      expect(report.findings).toEqual([]);
      const untested = report.checks.filter((c) => c.operations_tested === 0).map((c) => c.id);
      // Plain HTTP: no transport to test; the DPoP check needs a DPoP-bound token.
      expect(untested).toEqual(['dpop-binding', 'tls-protocols', 'tls-ciphers', 'tls-renegotiation', 'tls-certificate']);
    } finally {
      await api.close();
    }
  });
});
