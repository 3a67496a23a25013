// The scheduled self-audit. End to end on both engines: the server with `scan:` scans itself through
// its own front door (the real scanner, real throwaway clients), keeps the report, and serves it at
// /v1/security/scans to the platform's auditors only. And the schedule's own rule, on a real
// database, audit log and detector: a finding the previous report did not have is an audit event
// and (from medium up) an alert; the same finding again is not news.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { createPlatformSecrets } from '../../src/crypto/platform-secrets.js';
import { createLogger } from '../../src/logger.js';
import { defaultAlertRules } from '../../src/monitoring/alert-config.js';
import { createDetector, type AlertInput } from '../../src/monitoring/detector.js';
import type { ScanReport } from '../../src/scan/types.js';
import { createScanSchedule } from '../../src/security-scans/schedule.js';
import { createScanStore } from '../../src/security-scans/store.js';
import { startTestServer, type TestServer } from '../e2e/harness.js';
import { createTestDatabase, describeEngines, type Engine, type TestDatabase } from '../support/databases.js';
import { eventually } from '../support/eventually.js';

describeEngines('the scheduled self-audit', (engine: Engine) => {
  let s: TestServer;
  let dir: string;
  let auditor: Awaited<ReturnType<TestServer['newClient']>>;
  let tenantAuditor: Awaited<ReturnType<TestServer['newClient']>>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-self-audit-'));
    const config = path.join(dir, 'vaultgate.yaml');
    // The timer would fire in an hour: the test runs the scheduled scan itself.
    writeFileSync(config, 'scan: { every_hours: 24, first_delay_seconds: 3600, max_requests: 2000 }\n');
    s = await startTestServer(engine, { VAULTGATE_CONFIG: config });
    auditor = await s.newClient('platform', ['audit:read']);
    tenantAuditor = await s.newClient('acme', ['audit:read']);
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scans the platform, keeps the report and serves it to the platform tenant only', async () => {
    const none = await s.http.call('/v1/security/scans/latest', { token: auditor.token });
    expect([none.status, none.body.code]).toEqual([404, 'not_found']);

    const ran = await s.server.scans!.runOnce('scheduled');
    expect(ran?.newFindings).toEqual([]);

    const list = await s.http.call('/v1/security/scans', { token: auditor.token });
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({ id: ran!.id, trigger: 'scheduled', findings: { high: 0, medium: 0, low: 0, info: 0 } });
    expect(list.body.data[0].requests_sent).toBeGreaterThan(50);

    const latest = await s.http.call('/v1/security/scans/latest', { token: auditor.token });
    expect(latest.status).toBe(200);
    const report = latest.body.report as ScanReport;
    expect(report.findings).toEqual([]);
    expect(report.checks.find((c) => c.id === 'bola')!.operations_tested).toBeGreaterThan(0);
    // The posture section: the test server runs on the development certificate.
    expect(report.posture?.map((p) => p.id)).toContain('development_certificate');
    // The scan's throwaway clients never show in the report.
    expect(JSON.stringify(latest.body)).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}\./);

    const foreign = await s.http.call('/v1/security/scans', { token: tenantAuditor.token });
    expect([foreign.status, foreign.body.code]).toEqual([403, 'forbidden']);
    const completed = async () =>
      (await s.http.call('/v1/audit-events?action=security.scan_completed', { token: auditor.token })).body.data.at(-1);
    await eventually(async () => (await completed()) !== undefined, 'the scan is audited');
    expect(await completed()).toMatchObject({ target: ran!.id, details: { trigger: 'scheduled', high: 0, new_findings: 0 } });
  });
});

describe('the self-audit schedule: what is new', () => {
  let t: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    t = await createTestDatabase('sqlite');
    dir = mkdtempSync(path.join(tmpdir(), 'vaultgate-schedule-'));
  });
  afterAll(async () => {
    await t?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const finding = (check: string, severity: 'high' | 'medium' | 'low', p: string) => ({
    check,
    owasp: 'API8:2023' as const,
    severity,
    method: 'GET',
    path: p,
    evidence: 'seen',
    remediation: 'fix it',
  });
  const report = (findings: ScanReport['findings']): ScanReport => ({
    target: 'https://localhost',
    started_at: new Date().toISOString(),
    finished_at: new Date().toISOString(),
    requests_sent: 10,
    checks: [],
    findings,
  });

  // @control PCI-10.4.1
  it('a new medium finding is an audit event and an alert; a low one only an event; a repeat neither', async () => {
    const master = loadMasterKey(path.join(dir, 'master.key'), { create: true });
    const audit = createAuditLog({ db: t.db, secrets: createPlatformSecrets(t.db, master), checkpointIntervalMs: 0 });
    const alerts: AlertInput[] = [];
    const detector = createDetector(defaultAlertRules(), (a) => alerts.push(a));
    audit.onAppended((event) => detector.observe({ kind: 'audit', event }));
    const reports = [
      report([finding('cors', 'medium', '/v1/accounts'), finding('trace-method', 'low', '/')]),
      report([finding('cors', 'medium', '/v1/accounts'), finding('cors', 'medium', '/v1/customers')]),
    ];
    const schedule = createScanSchedule({
      everyHours: 24,
      firstDelayMs: 3600_000,
      run: async () => reports.shift()!,
      store: createScanStore(t.db),
      audit,
      onAuditFailure: (err) => {
        throw err;
      },
      logger: createLogger('silent'),
    });
    try {
      const first = await schedule.runOnce('scheduled');
      expect(first!.newFindings.map((f) => f.check)).toEqual(['cors', 'trace-method']);
      await expect.poll(() => alerts.length).toBe(1);
      expect(alerts[0]).toMatchObject({ rule: 'scan_finding', severity: 'high', subject: 'scan:cors GET /v1/accounts' });

      const second = await schedule.runOnce('scheduled');
      // Only /v1/customers is new; /v1/accounts was already reported.
      expect(second!.newFindings.map((f) => f.path)).toEqual(['/v1/customers']);
      await expect.poll(() => alerts.length).toBe(2);
      expect(alerts[1]!.subject).toBe('scan:cors GET /v1/customers');
      const events = await t.db.query<{ n: number }>("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'security.scan_finding'");
      expect(Number(events[0]!.n)).toBe(3);
    } finally {
      schedule.stop();
      await audit.stop();
    }
  });
});
