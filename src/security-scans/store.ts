// The self-audit's reports in the database: saved after each scheduled scan, listed newest first,
// and the latest one read whole. At most KEEP reports are kept: older ones are deleted on save.
import { newId } from '../lib/ids.js';
import type { ScanReport } from '../scan/types.js';
import type { Database } from '../storage/types.js';

const KEEP = 200;

export interface ScanSummary {
  id: string;
  started_at: string;
  finished_at: string;
  trigger: string;
  requests_sent: number;
  findings: { high: number; medium: number; low: number; info: number };
}

interface Row {
  id: string;
  started_at: bigint | number;
  finished_at: bigint | number;
  trigger: string;
  requests_sent: bigint | number;
  high: bigint | number;
  medium: bigint | number;
  low: bigint | number;
  info: bigint | number;
}

const summary = (r: Row): ScanSummary => ({
  id: r.id,
  started_at: new Date(Number(r.started_at)).toISOString(),
  finished_at: new Date(Number(r.finished_at)).toISOString(),
  trigger: r.trigger,
  requests_sent: Number(r.requests_sent),
  findings: { high: Number(r.high), medium: Number(r.medium), low: Number(r.low), info: Number(r.info) },
});

export interface ScanStore {
  save(report: ScanReport, trigger: 'scheduled' | 'manual'): Promise<string>;
  list(limit: number): Promise<ScanSummary[]>;
  latest(): Promise<{ id: string; trigger: string; report: ScanReport } | undefined>;
}

export function createScanStore(db: Database): ScanStore {
  return {
    async save(report, trigger) {
      const id = newId('scn');
      const count = (s: string) => report.findings.filter((f) => f.severity === s).length;
      await db.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO security_scans (id, started_at, finished_at, trigger, requests_sent, high, medium, low, info, report)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [
            id,
            Date.parse(report.started_at),
            Date.parse(report.finished_at),
            trigger,
            report.requests_sent,
            count('high'),
            count('medium'),
            count('low'),
            count('info'),
            JSON.stringify(report),
          ],
        );
        await tx.run(
          `DELETE FROM security_scans WHERE started_at < (SELECT MIN(started_at) FROM
             (SELECT started_at FROM security_scans ORDER BY started_at DESC LIMIT $1) recent)`,
          [KEEP],
        );
      });
      return id;
    },
    async list(limit) {
      const rows = await db.query<Row>(
        'SELECT id, started_at, finished_at, trigger, requests_sent, high, medium, low, info FROM security_scans ORDER BY started_at DESC, id DESC LIMIT $1',
        [limit],
      );
      return rows.map(summary);
    },
    async latest() {
      const row = await db.one<{ id: string; trigger: string; report: string }>(
        'SELECT id, trigger, report FROM security_scans ORDER BY started_at DESC, id DESC LIMIT 1',
      );
      return row && { id: row.id, trigger: row.trigger, report: JSON.parse(row.report) as ScanReport };
    },
  };
}
