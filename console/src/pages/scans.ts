// Security scans: the latest self-audit report (what was checked, what was found, by OWASP API
// Security Top 10 category), the earlier runs, and Run now (scans:run; the scan runs in the
// background and the page says so). The reports are the platform's (platform tenant only).
import { ApiError, get, post, type ScanReport, type ScanSummary, type SessionInfo } from '../api.js';
import { actionButton, platformOnly, readOnlyNote, statusLine } from '../actions.js';
import { barTable, h, table, time } from '../dom.js';

const SEVERITY_ORDER = ['high', 'medium', 'low', 'info'];

export async function renderScans(main: HTMLElement, session: SessionInfo): Promise<void> {
  let scans: { data: ScanSummary[] };
  try {
    scans = await get<{ data: ScanSummary[] }>('/v1/security/scans?limit=10');
  } catch (err) {
    if (err instanceof ApiError && err.status === 403 && err.code === 'forbidden') {
      main.append(platformOnly('Security scans'));
      return;
    }
    throw err;
  }
  const latest = scans.data.length
    ? await get<ScanReport>('/v1/security/scans/latest').catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) return undefined;
        throw err;
      })
    : undefined;

  const canRun = session.scopes.includes('scans:run');
  const outcome = statusLine('scans-outcome');
  const run = actionButton(
    'Run a scan now',
    { allowed: canRun, needs: 'scans:run', className: '' },
    async () => {
      await post<unknown>('/v1/security/scans');
      outcome.ok('The scan has started and runs in the background; reload the page in a minute for its report.');
    },
    (err) => outcome.fail(err),
  );
  run.id = 'run-scan';
  main.append(...(canRun ? [] : [readOnlyNote(session.role, 'scans:run', 'start a scan')]), h('div', { class: 'action' }, run), outcome);

  if (!latest) {
    main.append(h('p', { class: 'empty', id: 'no-scan' }, 'No scan has run yet.'));
    return;
  }
  const r = latest.report;
  const owasp = [...new Set([...r.checks.map((c) => c.owasp), ...r.findings.map((f) => f.owasp)])].sort();
  const findings = [...r.findings].sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity));
  main.append(
    h('h2', {}, 'Latest report'),
    h(
      'dl',
      { class: 'stats' },
      h('div', {}, h('dt', {}, 'Finished'), h('dd', {}, time(r.finished_at))),
      h('div', {}, h('dt', {}, 'Started by'), h('dd', {}, latest.trigger)),
      h('div', {}, h('dt', {}, 'Requests sent'), h('dd', {}, r.requests_sent)),
      h('div', {}, h('dt', {}, 'Findings'), h('dd', { id: 'finding-count' }, r.findings.length)),
    ),
    h(
      'section',
      { 'aria-labelledby': 'by-owasp' },
      h('h2', { id: 'by-owasp' }, 'Findings by OWASP API Security category'),
      barTable(
        'Findings by OWASP category',
        'Category',
        owasp.map((o) => ({ name: o, value: r.findings.filter((f) => f.owasp === o).length })),
      ),
    ),
    h('h2', {}, 'Findings'),
    table<(typeof findings)[number]>(
      'Findings of the latest scan',
      [
        ['Severity', (f) => h('span', { class: `badge sev-${f.severity === 'info' ? 'low' : f.severity}` }, f.severity)],
        ['Category', (f) => f.owasp],
        ['Check', (f) => f.check],
        ['Request', (f) => h('code', {}, `${f.method} ${f.path}`)],
        ['Evidence', (f) => f.evidence],
        ['Remediation', (f) => f.remediation],
      ],
      findings,
      'none.',
    ),
    ...(r.posture?.length
      ? [
          h('h2', {}, 'Posture'),
          table<NonNullable<typeof r.posture>[number]>(
            'Configuration posture',
            [
              ['Severity', (p) => p.severity],
              ['Title', (p) => p.title],
              ['Detail', (p) => p.detail],
              ['Remediation', (p) => p.remediation],
            ],
            r.posture,
          ),
        ]
      : []),
    h('h2', {}, 'Checks run'),
    table<(typeof r.checks)[number]>(
      'Checks of the latest scan',
      [
        ['Check', (c) => c.id],
        ['Category', (c) => c.owasp],
        ['Operations tested', (c) => c.operations_tested],
        ['Note', (c) => c.note ?? ''],
      ],
      r.checks,
    ),
    h('h2', {}, 'Earlier scans'),
    table<ScanSummary>(
      'Recent scans',
      [
        ['Finished', (s) => time(s.finished_at)],
        ['Started by', (s) => s.trigger],
        ['Requests', (s) => s.requests_sent],
        ['High', (s) => s.findings.high],
        ['Medium', (s) => s.findings.medium],
        ['Low', (s) => s.findings.low],
        ['Info', (s) => s.findings.info],
      ],
      scans.data,
    ),
  );
}
