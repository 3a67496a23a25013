// The shapes of a scan (docs/contract.md §8): what a check declares, what it reports, and the
// report the engine returns. Everything here is plain data, so reports can be stored and rendered.

import type { PostureFinding } from '../doctor/posture.js';

export const SEVERITIES = ['high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** OWASP API Security Top 10, 2023 edition. */
export type OwaspCategory =
  | 'API1:2023'
  | 'API2:2023'
  | 'API3:2023'
  | 'API4:2023'
  | 'API5:2023'
  | 'API6:2023'
  | 'API7:2023'
  | 'API8:2023'
  | 'API9:2023'
  | 'API10:2023';

export interface Finding {
  check: string;
  owasp: OwaspCategory;
  severity: Severity;
  method: string;
  path: string;
  /** What was sent and seen, scrubbed of tokens and secrets (scrub.ts). */
  evidence: string;
  remediation: string;
}

export interface CheckSummary {
  id: string;
  owasp: OwaspCategory;
  operations_tested: number;
  /** Why a check tested nothing or stopped early (budget spent, not applicable); absent otherwise. */
  note?: string;
}

export interface ScanReport {
  target: string;
  started_at: string;
  finished_at: string;
  requests_sent: number;
  checks: CheckSummary[];
  findings: Finding[];
  /** The local platform's configuration risks (`vaultgate doctor`); absent for a --target scan. */
  posture?: PostureFinding[];
}

/** What a check hands the engine for one confirmed problem; the engine adds the check's own fields. */
export interface Observation {
  method: string;
  path: string;
  evidence: string;
}

const RANK: Record<Severity, number> = { high: 3, medium: 2, low: 1, info: 0 };

/** Whether `s` is at or above `threshold`. */
export function atLeast(s: Severity, threshold: Severity): boolean {
  return RANK[s] >= RANK[threshold];
}

export function bySeverity(a: Finding, b: Finding): number {
  return (
    RANK[b.severity] - RANK[a.severity] ||
    a.check.localeCompare(b.check) ||
    a.path.localeCompare(b.path) ||
    a.method.localeCompare(b.method)
  );
}
