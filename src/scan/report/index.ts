// A scan report in the format asked for: JSON (docs/contract.md §8, as is), SARIF 2.1.0, Markdown.
import type { Check } from '../context.js';
import type { ScanReport } from '../types.js';
import { toMarkdown } from './markdown.js';
import { toSarif, type SarifOptions } from './sarif.js';

export const FORMATS = ['json', 'sarif', 'markdown'] as const;
export type ReportFormat = (typeof FORMATS)[number];

export function renderReport(report: ScanReport, format: ReportFormat, checks: readonly Check[], sarif: SarifOptions): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'sarif':
      return `${JSON.stringify(toSarif(report, checks, sarif), null, 2)}\n`;
    case 'markdown':
      return `${toMarkdown(report, checks)}\n`;
  }
}
