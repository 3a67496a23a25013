// The scheduled self-audit (docs/contract.md §8, `scan: { every_hours: N }`): the server scans
// itself every N hours, keeps the report, and tells people what is new: an audit event per finding
// the previous report did not have (which the detector turns into an alert) and one for the scan.
// With several nodes each one scans (a scan of a node is a test of that node's configuration).
// Without the `scan:` section there is no timer, but a scan can still be asked for over the API.
import type { Logger } from 'pino';
import { AUDIT_ACTIONS } from '../audit/actions.js';
import type { AuditLog } from '../audit/types.js';
import type { Finding, ScanReport } from '../scan/types.js';
import type { ScanStore } from './store.js';

export interface ScanSchedule {
  /** Runs one scan now (the timer's work; tests call it directly). */
  runOnce(trigger: 'scheduled' | 'manual'): Promise<{ id: string; newFindings: Finding[] } | undefined>;
  /** Starts a scan in the background unless one is running (POST /v1/security/scans); whether it started. */
  startManual(): boolean;
  stop(): void;
}

/** One finding's identity across reports: the same problem at the same place. */
const keyOf = (f: Finding) => `${f.check}|${f.method}|${f.path}`;

export function createScanSchedule(deps: {
  /** Absent: no timer, scans only on demand. */
  everyHours: number | undefined;
  /** The first scan, this long after the start (the platform must be listening and warm). */
  firstDelayMs: number;
  run(): Promise<ScanReport>;
  store: ScanStore;
  audit: AuditLog;
  onAuditFailure(err: unknown, action: string): void;
  logger: Logger;
}): ScanSchedule {
  let running: Promise<unknown> | undefined;

  const record = (event: Parameters<AuditLog['record']>[0]) =>
    void deps.audit.record(event).catch((err: unknown) => deps.onAuditFailure(err, event.action));

  async function runOnce(trigger: 'scheduled' | 'manual') {
    const previous = await deps.store.latest();
    let report: ScanReport;
    try {
      report = await deps.run();
    } catch (err) {
      deps.logger.error({ event: 'security.scan_failed', error: (err as Error | undefined)?.name ?? 'Error' }, 'self-audit scan failed');
      return undefined;
    }
    const id = await deps.store.save(report, trigger);
    const seen = new Set((previous?.report.findings ?? []).map(keyOf));
    const newFindings = report.findings.filter((f) => !seen.has(keyOf(f)));
    const counts = { high: 0, medium: 0, low: 0, info: 0 };
    for (const f of report.findings) counts[f.severity]++;
    record({
      action: AUDIT_ACTIONS.securityScanCompleted,
      outcome: 'success',
      target: id,
      details: { trigger, requests_sent: report.requests_sent, new_findings: newFindings.length, ...counts },
    });
    // Evidence stays in the stored report (it is scrubbed, but an audit event is forever).
    for (const f of newFindings) {
      record({
        action: AUDIT_ACTIONS.securityScanFinding,
        outcome: 'failure',
        target: id,
        details: { check: f.check, owasp: f.owasp, severity: f.severity, method: f.method, path: f.path.slice(0, 200) },
      });
    }
    deps.logger.info({ event: 'security.scan_completed', scan: id, new_findings: newFindings.length, ...counts }, 'self-audit done');
    return { id, newFindings };
  }

  // Never two at once: a scan that outlasts its interval delays the next one, and a manual one
  // asked for while another runs is refused.
  const start = (trigger: 'scheduled' | 'manual') => {
    if (running) return false;
    running = runOnce(trigger).finally(() => (running = undefined));
    return true;
  };
  const timers: NodeJS.Timeout[] = [];
  if (deps.everyHours !== undefined) {
    timers.push(
      setTimeout(() => start('scheduled'), deps.firstDelayMs),
      setInterval(() => start('scheduled'), deps.everyHours * 3600_000),
    );
    for (const t of timers) t.unref();
  }

  return {
    runOnce,
    startManual: () => start('manual'),
    stop() {
      for (const t of timers) clearTimeout(t);
    },
  };
}
