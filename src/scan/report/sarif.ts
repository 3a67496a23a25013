// SARIF 2.1.0 (OASIS) of a scan, so that a CI uploads it to code scanning: one rule per check,
// one result per finding, located by a logical location (the operation, `GET /v1/x`) and the
// OpenAPI document as the artifact.
import { createHash } from 'node:crypto';
import type { Check } from '../context.js';
import type { Finding, ScanReport, Severity } from '../types.js';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { high: 'error', medium: 'warning', low: 'note', info: 'note' };
/** GitHub code scanning ranks security results by this property (0.0–10.0). */
const SECURITY_SEVERITY: Record<Severity, string> = { high: '8.0', medium: '5.5', low: '3.0', info: '0.0' };

export interface SarifOptions {
  /** Where the OpenAPI document came from (a URL or a file), for artifact locations. */
  documentUri: string;
  version: string;
}

function fingerprint(f: Finding): string {
  return createHash('sha256').update(`${f.check}\n${f.method}\n${f.path}`).digest('hex');
}

export function toSarif(report: ScanReport, checks: readonly Check[], options: SarifOptions): Record<string, unknown> {
  const ran = checks.filter((c) => report.checks.some((s) => s.id === c.id));
  const index = new Map(ran.map((c, i) => [c.id, i]));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'vaultgate scan',
            version: options.version,
            informationUri: 'https://owasp.org/API-Security/editions/2023/en/0x11-t10/',
            rules: ran.map((c) => ({
              id: c.id,
              name: c.title.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : '')),
              shortDescription: { text: c.title },
              fullDescription: { text: `${c.title} (OWASP ${c.owasp})` },
              help: { text: c.remediation },
              defaultConfiguration: { level: LEVEL[c.severity] },
              properties: { tags: ['security', `OWASP-${c.owasp}`], 'security-severity': SECURITY_SEVERITY[c.severity], precision: 'high' },
            })),
          },
        },
        invocations: [{ executionSuccessful: true, startTimeUtc: report.started_at, endTimeUtc: report.finished_at }],
        results: report.findings.map((f) => ({
          ruleId: f.check,
          ...(index.has(f.check) ? { ruleIndex: index.get(f.check) } : {}),
          level: LEVEL[f.severity],
          message: { text: `${f.method} ${f.path}: ${f.evidence}` },
          locations: [
            {
              physicalLocation: { artifactLocation: { uri: options.documentUri } },
              logicalLocations: [
                { name: `${f.method} ${f.path}`, fullyQualifiedName: `${report.target} ${f.method} ${f.path}`, kind: 'function' },
              ],
            },
          ],
          partialFingerprints: { 'vaultgateFinding/v1': fingerprint(f) },
          properties: { owasp: f.owasp, severity: f.severity, remediation: f.remediation },
        })),
        properties: {
          target: report.target,
          requests_sent: report.requests_sent,
          checks: report.checks,
        },
      },
    ],
  };
}
