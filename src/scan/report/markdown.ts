// The report as Markdown, for a ticket or a pull request: a summary, every check with what it
// covered, then the findings by severity with their evidence and what to do.
import type { Check } from '../context.js';
import { SEVERITIES, type ScanReport } from '../types.js';

/** Markdown table cells: a pipe or a line break would break the row. */
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const code = (s: string): string => `\`${s.replace(/`/g, "'")}\``;

export function toMarkdown(report: ScanReport, checks: readonly Check[]): string {
  const count = (s: string) => report.findings.filter((f) => f.severity === s).length;
  const title = new Map(checks.map((c) => [c.id, c.title]));
  const lines = [
    '# vaultgate scan report',
    '',
    `- Target: ${code(report.target)}`,
    `- Started: ${report.started_at}, finished: ${report.finished_at}`,
    `- Requests sent: ${report.requests_sent}`,
    `- Findings: ${report.findings.length} (${SEVERITIES.map((s) => `${count(s)} ${s}`).join(', ')})`,
    '',
    '## Checks',
    '',
    '| check | OWASP | operations tested | note |',
    '| --- | --- | ---: | --- |',
    ...report.checks.map(
      (c) => `| ${code(c.id)} ${cell(title.get(c.id) ?? '')} | ${c.owasp} | ${c.operations_tested} | ${cell(c.note ?? '')} |`,
    ),
    '',
    '## Findings',
    '',
  ];
  if (report.findings.length === 0) lines.push('No findings.', '');
  for (const f of report.findings) {
    lines.push(
      `### ${f.severity.toUpperCase()}: ${cell(title.get(f.check) ?? f.check)} — ${code(`${f.method} ${f.path}`)}`,
      '',
      `- Check: ${code(f.check)} (${f.owasp})`,
      `- Evidence: ${cell(f.evidence)}`,
      `- Remediation: ${cell(f.remediation)}`,
      '',
    );
  }
  // The local platform's configuration risks (vaultgate doctor), when the scan checked them.
  if (report.posture !== undefined) {
    lines.push('## Posture', '');
    if (report.posture.length === 0) lines.push('No configuration risk found.', '');
    for (const p of report.posture) {
      lines.push(`- ${p.severity.toUpperCase()} ${code(p.id)}: ${cell(p.title)}. ${cell(p.detail)} Fix: ${cell(p.remediation)}`);
    }
    if (report.posture.length > 0) lines.push('');
  }
  return lines.join('\n');
}
