// The three report formats of one scan: JSON exactly as docs/contract.md §8, SARIF 2.1.0 that
// code scanning accepts (one rule per check, results located by method and path), and Markdown.
import { beforeAll, describe, expect, it } from 'vitest';
import { CHECKS } from '../../src/scan/engine.js';
import { renderReport } from '../../src/scan/report/index.js';
import type { ScanReport } from '../../src/scan/types.js';
import { startFixtureApi } from './fixture/server.js';
import { fixtureTokens, scan } from './helpers.js';

const RAN = ['bola', 'broken-authentication', 'trace-method', 'version-banners'];
let report: ScanReport;
let tokens: string[];

beforeAll(async () => {
  const api = await startFixtureApi(['bola-path', 'query-token', 'trace', 'banner']);
  try {
    tokens = Object.values(await fixtureTokens(api));
    report = await scan(api, RAN);
  } finally {
    await api.close();
  }
});

describe('reports', () => {
  it('JSON: the fields of the contract and nothing else', () => {
    const doc = JSON.parse(renderReport(report, 'json', CHECKS, { documentUri: 'openapi.json', version: '1' })) as ScanReport;
    expect(Object.keys(doc)).toEqual(['target', 'started_at', 'finished_at', 'requests_sent', 'checks', 'findings']);
    expect(doc.checks.map((c) => Object.keys(c))).toEqual(RAN.map(() => ['id', 'owasp', 'operations_tested']));
    expect(new Set(doc.findings.map((f) => Object.keys(f).join(',')))).toEqual(
      new Set(['check,owasp,severity,method,path,evidence,remediation']),
    );
    expect(doc.findings.map((f) => f.check)).toEqual([
      'bola',
      'bola',
      'bola',
      'bola',
      'broken-authentication',
      'trace-method',
      'trace-method',
      'version-banners',
    ]);
  });

  it('SARIF 2.1.0: rules per check, results with ruleId, ruleIndex, level, message and locations', () => {
    const sarif = JSON.parse(renderReport(report, 'sarif', CHECKS, { documentUri: 'http://127.0.0.1/openapi.json', version: '0.1.0' }));
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.$schema).toBe('https://json.schemastore.org/sarif-2.1.0.json');
    expect(sarif.runs).toHaveLength(1);
    const run = sarif.runs[0];
    expect(run.tool.driver.name).toBe('vaultgate scan');
    const rules = run.tool.driver.rules as Array<Record<string, any>>;
    expect(rules.map((r) => r.id)).toEqual(RAN);
    for (const r of rules) {
      const check = CHECKS.find((c) => c.id === r.id);
      expect(r.shortDescription.text).toBe(check?.title);
      expect(r.help.text).toBe(check?.remediation);
      expect(r.properties.tags).toEqual(['security', `OWASP-${check?.owasp}`]);
      expect(Number(r.properties['security-severity'])).toBeGreaterThan(0);
    }
    expect(run.results).toHaveLength(report.findings.length);
    run.results.forEach((res: any, i: number) => {
      const f = report.findings[i]!;
      expect(rules[res.ruleIndex]?.id).toBe(res.ruleId);
      expect(res.ruleId).toBe(f.check);
      expect(res.level).toBe({ high: 'error', medium: 'warning', low: 'note', info: 'note' }[f.severity]);
      expect(res.message.text).toBe(`${f.method} ${f.path}: ${f.evidence}`);
      expect(res.locations[0].logicalLocations[0].name).toBe(`${f.method} ${f.path}`);
      expect(res.locations[0].physicalLocation.artifactLocation.uri).toBe('http://127.0.0.1/openapi.json');
      expect(res.partialFingerprints['vaultgateFinding/v1']).toMatch(/^[0-9a-f]{64}$/);
    });
    expect(run.invocations[0]).toEqual({ executionSuccessful: true, startTimeUtc: report.started_at, endTimeUtc: report.finished_at });
  });

  it('Markdown: summary, every check with its coverage, each finding with evidence and remediation', () => {
    const md = renderReport(report, 'markdown', CHECKS, { documentUri: 'openapi.json', version: '1' });
    expect(md.startsWith('# vaultgate scan report\n')).toBe(true);
    expect(md).toContain(`- Requests sent: ${report.requests_sent}`);
    expect(md).toContain('- Findings: 8 (5 high, 0 medium, 3 low, 0 info)');
    for (const c of report.checks) expect(md).toContain(`| \`${c.id}\` `);
    expect(md).toContain('### HIGH: Broken object level authorization — `DELETE /v1/notes/{id}`');
    expect(md).toContain('- Remediation: Refuse TRACE (405, or 501) on every path');
    expect(md.match(/^### /gm)).toHaveLength(report.findings.length);
  });

  it('no format carries a token, even where the probe put one in a URL', () => {
    expect(report.findings.some((f) => f.evidence.includes('access_token'))).toBe(true);
    for (const format of ['json', 'sarif', 'markdown'] as const) {
      const text = renderReport(report, format, CHECKS, { documentUri: 'openapi.json', version: '1' });
      for (const t of tokens) expect(text.includes(t)).toBe(false);
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    }
  });
});
