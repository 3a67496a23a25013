// Overview: open alerts by severity, the last hour's request and error rates, the top clients.
import { get, type Alert, type Client, type Page, type SessionInfo, type Usage } from '../api.js';
import { barTable, h, table } from '../dom.js';

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;

function section(title: string, id: string, ...body: Array<Node | null>): HTMLElement {
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...body);
}

const unavailable = (scope: string, role: string) => h('p', { class: 'notice' }, `Not available to your role (${role}): needs ${scope}.`);

export async function renderOverview(main: HTMLElement, session: SessionInfo): Promise<void> {
  const alerts = await get<Page<Alert>>('/v1/alerts?limit=100');
  const open = alerts.data.filter((a) => a.status === 'open');
  main.append(
    section(
      'Open alerts by severity',
      'sev',
      barTable(
        `Open alerts by severity (${open.length} in the latest ${alerts.data.length})`,
        'Severity',
        SEVERITIES.map((s) => ({ name: s, value: open.filter((a) => a.severity === s).length, className: `sev-${s}` })),
      ),
      h('p', {}, h('a', { href: '/console/alerts' }, 'All alerts, live')),
    ),
  );

  if (!session.scopes.includes('analytics:read')) {
    main.append(section('Traffic, last hour', 'traffic', unavailable('analytics:read', session.role)));
    main.append(section('Top clients, last hour', 'top', unavailable('analytics:read', session.role)));
    return;
  }
  const [byStatus, byClient, clients] = await Promise.all([
    get<Usage>('/v1/admin/usage?group_by=status'),
    get<Usage>('/v1/admin/usage?group_by=client'),
    session.scopes.includes('admin:clients') ? get<{ data: Client[] }>('/v1/admin/clients') : Promise.resolve({ data: [] as Client[] }),
  ]);
  const total = byStatus.groups.reduce((n, g) => n + g.requests, 0);
  const count = (cls: string) => byStatus.groups.filter((g) => g.status_class === cls).reduce((n, g) => n + g.requests, 0);
  const rate = (n: number) => (total === 0 ? '0 %' : `${((100 * n) / total).toFixed(1)} %`);
  const minutes = Math.max(1, (Date.parse(byStatus.to) - Date.parse(byStatus.from)) / 60_000);
  main.append(
    section(
      'Traffic, last hour',
      'traffic',
      h(
        'dl',
        { class: 'stats' },
        h('div', {}, h('dt', {}, 'Requests per minute'), h('dd', {}, (total / minutes).toFixed(1))),
        h('div', {}, h('dt', {}, 'Client errors (4xx)'), h('dd', {}, rate(count('4xx')))),
        h('div', {}, h('dt', {}, 'Server errors (5xx)'), h('dd', {}, rate(count('5xx')))),
        h('div', {}, h('dt', {}, 'Requests'), h('dd', {}, total)),
      ),
    ),
  );
  const names = new Map(clients.data.map((c) => [c.client_id, c.name]));
  const top = [...byClient.groups]
    .filter((g) => g.client_id)
    .sort((a, b) => b.requests - a.requests)
    .slice(0, 5);
  main.append(
    section(
      'Top clients, last hour',
      'top',
      barTable(
        'Top clients by requests',
        'Client',
        top.map((g) => ({
          name: names.get(g.client_id!) ? `${names.get(g.client_id!)} (${g.client_id})` : g.client_id!,
          value: g.requests,
        })),
      ),
      top.length
        ? table(
            'Latency of the top clients (ms)',
            [
              ['Client', (g: (typeof top)[number]) => g.client_id],
              ['p50', (g) => g.latency_ms.p50],
              ['p95', (g) => g.latency_ms.p95],
              ['p99', (g) => g.latency_ms.p99],
            ],
            top,
          )
        : null,
    ),
  );
}
